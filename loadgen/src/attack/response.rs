//! Allocation-free, sans-I/O HTTP/1.x response parser.
//!
//! Feed it the bytes read so far; it parses the head with `httparse` (headers on the stack) and then
//! *skips* body bytes without copying them: `Content-Length`, `Transfer-Encoding: chunked` (chunk
//! sizes, extensions and trailers parsed incrementally, so a chunk header may be split across reads)
//! and close-delimited bodies (ended by [`ResponseParser::finish`] at end of stream). Interim `1xx`
//! responses (other than `101`) are skipped.
//!
//! ```
//! use loadgen::attack::response::{Progress, ResponseParser};
//! let mut p = ResponseParser::new(false);
//! let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
//! match p.parse(wire).unwrap() {
//!     Progress::Complete { consumed, response } => {
//!         assert_eq!(consumed, wire.len());
//!         assert_eq!(response.status, 200);
//!         assert!(response.keep_alive);
//!     }
//!     Progress::Partial { .. } => unreachable!(),
//! }
//! ```

/// Maximum number of response headers.
pub const MAX_HEADERS: usize = 64;

/// A complete response's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
    /// Bytes of body framing and payload consumed (excluding the head).
    pub body_bytes: u64,
}

/// Result of one [`ResponseParser::parse`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed. `consumed` bytes at the front of the buffer were used and must not be
    /// passed again; the rest (an incomplete head) must be passed again with more bytes appended.
    Partial {
        /// Bytes used.
        consumed: usize,
    },
    /// The response is complete after `consumed` bytes; bytes after that belong to what follows.
    Complete {
        /// Bytes used.
        consumed: usize,
        /// The response.
        response: Response,
    },
}

/// Why a response is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The head is not valid HTTP/1.x.
    #[error("invalid response head: {0}")]
    Head(httparse::Error),
    /// Invalid or conflicting `Content-Length`.
    #[error("invalid Content-Length")]
    ContentLength,
    /// Invalid chunked framing.
    #[error("invalid chunked encoding")]
    Chunk,
    /// The stream ended before the response was complete.
    #[error("stream ended before the response was complete")]
    Incomplete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Fixed { remaining: u64 },
    Chunked(Chunk),
    UntilEof,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex size; `digits` read so far.
    Size {
        value: u64,
        digits: u8,
    },
    /// After the size: optional whitespace / extension until CR.
    Extension {
        value: u64,
    },
    /// Expecting LF after the size line's CR.
    SizeLf {
        value: u64,
    },
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Expecting LF of the final empty line.
    FinalLf,
    /// Inside a trailer line.
    TrailerLine,
}

/// Incremental parser for one response at a time. Reusable with [`ResponseParser::reset`].
#[derive(Debug, Clone)]
pub struct ResponseParser {
    state: State,
    head_request: bool,
    status: u16,
    keep_alive: bool,
    body_bytes: u64,
}

impl ResponseParser {
    /// A parser for the response to one request; `head_request` if the request method was HEAD
    /// (the response then has no body whatever its headers say).
    pub fn new(head_request: bool) -> Self {
        ResponseParser {
            state: State::Head,
            head_request,
            status: 0,
            keep_alive: true,
            body_bytes: 0,
        }
    }

    /// Prepares for the next response on the same connection.
    pub fn reset(&mut self) {
        *self = ResponseParser::new(self.head_request);
    }

    /// Parses as much of `buf` as possible; see [`Progress`] for what to do with the bytes.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Progress, ParseError> {
        let mut pos = 0;
        loop {
            match self.state {
                State::Head => {
                    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    let mut resp = httparse::Response::new(&mut headers);
                    let n = match resp.parse(&buf[pos..]).map_err(ParseError::Head)? {
                        httparse::Status::Complete(n) => n,
                        httparse::Status::Partial => {
                            return Ok(Progress::Partial { consumed: pos });
                        }
                    };
                    pos += n;
                    let status = resp.code.unwrap_or(0);
                    if (100..200).contains(&status) && status != 101 {
                        continue; // interim response: the real one follows
                    }
                    self.head_done(status, resp.version.unwrap_or(1), resp.headers)?;
                }
                State::Fixed { remaining } => {
                    let take = remaining.min((buf.len() - pos) as u64);
                    pos += take as usize;
                    self.body_bytes += take;
                    if take == remaining {
                        self.state = State::Done;
                    } else {
                        self.state = State::Fixed {
                            remaining: remaining - take,
                        };
                        return Ok(Progress::Partial { consumed: pos });
                    }
                }
                State::Chunked(chunk) => {
                    let start = pos;
                    let r = self.chunked(chunk, buf, &mut pos);
                    self.body_bytes += (pos - start) as u64;
                    r?;
                    if self.state != State::Done {
                        return Ok(Progress::Partial { consumed: pos });
                    }
                }
                State::UntilEof => {
                    self.body_bytes += (buf.len() - pos) as u64;
                    return Ok(Progress::Partial {
                        consumed: buf.len(),
                    });
                }
                State::Done => {
                    let response = self.response();
                    return Ok(Progress::Complete {
                        consumed: pos,
                        response,
                    });
                }
            }
        }
    }

    /// Call at end of stream: completes a close-delimited body, otherwise the response was cut short.
    pub fn finish(&mut self) -> Result<Response, ParseError> {
        match self.state {
            State::UntilEof | State::Done => {
                self.state = State::Done;
                Ok(self.response())
            }
            _ => Err(ParseError::Incomplete),
        }
    }

    fn response(&self) -> Response {
        Response {
            status: self.status,
            keep_alive: self.keep_alive,
            body_bytes: self.body_bytes,
        }
    }

    fn head_done(
        &mut self,
        status: u16,
        version: u8,
        headers: &[httparse::Header<'_>],
    ) -> Result<(), ParseError> {
        self.status = status;
        let mut keep_alive = version >= 1;
        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        let mut has_te = false;
        for h in headers {
            if h.name.eq_ignore_ascii_case("content-length") {
                let v = parse_decimal(h.value).ok_or(ParseError::ContentLength)?;
                if content_length.is_some_and(|c| c != v) {
                    return Err(ParseError::ContentLength);
                }
                content_length = Some(v);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                has_te = true;
                // Chunked only counts as the final encoding.
                chunked = last_token(h.value).eq_ignore_ascii_case(b"chunked");
            } else if h.name.eq_ignore_ascii_case("connection") {
                for token in h.value.split(|&b| b == b',') {
                    let t = trim(token);
                    if t.eq_ignore_ascii_case(b"close") {
                        keep_alive = false;
                    } else if t.eq_ignore_ascii_case(b"keep-alive") {
                        keep_alive = true;
                    }
                }
            }
        }
        // HTTP/1.0 without an explicit keep-alive closes; an explicit close always wins.
        if version == 0 {
            keep_alive = headers.iter().any(|h| {
                h.name.eq_ignore_ascii_case("connection")
                    && h.value
                        .split(|&b| b == b',')
                        .any(|t| trim(t).eq_ignore_ascii_case(b"keep-alive"))
            }) && keep_alive;
        }
        self.keep_alive = keep_alive;
        let no_body =
            self.head_request || status == 204 || status == 304 || (100..200).contains(&status);
        self.state = if no_body {
            State::Done
        } else if has_te {
            if chunked {
                State::Chunked(Chunk::Size {
                    value: 0,
                    digits: 0,
                })
            } else {
                self.keep_alive = false;
                State::UntilEof
            }
        } else if let Some(len) = content_length {
            if len == 0 {
                State::Done
            } else {
                State::Fixed { remaining: len }
            }
        } else {
            self.keep_alive = false;
            State::UntilEof
        };
        Ok(())
    }

    /// Advances the chunked decoder over `buf[*pos..]`.
    fn chunked(&mut self, mut chunk: Chunk, buf: &[u8], pos: &mut usize) -> Result<(), ParseError> {
        while *pos < buf.len() {
            let b = buf[*pos];
            chunk = match chunk {
                Chunk::Data { remaining } => {
                    let take = remaining.min((buf.len() - *pos) as u64);
                    *pos += take as usize;
                    if take == remaining {
                        Chunk::DataCr
                    } else {
                        Chunk::Data {
                            remaining: remaining - take,
                        }
                    }
                }
                Chunk::Size { value, digits } => {
                    *pos += 1;
                    if let Some(d) = hex_value(b) {
                        if digits >= 15 {
                            return Err(ParseError::Chunk);
                        }
                        Chunk::Size {
                            value: value * 16 + d,
                            digits: digits + 1,
                        }
                    } else if digits == 0 {
                        return Err(ParseError::Chunk);
                    } else if b == b'\r' {
                        Chunk::SizeLf { value }
                    } else if b == b';' || b == b' ' || b == b'\t' {
                        Chunk::Extension { value }
                    } else {
                        return Err(ParseError::Chunk);
                    }
                }
                Chunk::Extension { value } => {
                    *pos += 1;
                    match b {
                        b'\r' => Chunk::SizeLf { value },
                        b'\n' => return Err(ParseError::Chunk),
                        _ => Chunk::Extension { value },
                    }
                }
                Chunk::SizeLf { value } => {
                    *pos += 1;
                    if b != b'\n' {
                        return Err(ParseError::Chunk);
                    }
                    if value == 0 {
                        Chunk::TrailerStart
                    } else {
                        Chunk::Data { remaining: value }
                    }
                }
                Chunk::DataCr => {
                    *pos += 1;
                    if b != b'\r' {
                        return Err(ParseError::Chunk);
                    }
                    Chunk::DataLf
                }
                Chunk::DataLf => {
                    *pos += 1;
                    if b != b'\n' {
                        return Err(ParseError::Chunk);
                    }
                    Chunk::Size {
                        value: 0,
                        digits: 0,
                    }
                }
                Chunk::TrailerStart => {
                    *pos += 1;
                    if b == b'\r' {
                        Chunk::FinalLf
                    } else if b == b'\n' {
                        return Err(ParseError::Chunk);
                    } else {
                        Chunk::TrailerLine
                    }
                }
                Chunk::TrailerLine => {
                    // Skip to the end of the line in one go.
                    match memchr::memchr(b'\n', &buf[*pos..]) {
                        Some(i) => {
                            *pos += i + 1;
                            Chunk::TrailerStart
                        }
                        None => {
                            *pos = buf.len();
                            Chunk::TrailerLine
                        }
                    }
                }
                Chunk::FinalLf => {
                    *pos += 1;
                    if b != b'\n' {
                        return Err(ParseError::Chunk);
                    }
                    self.state = State::Done;
                    return Ok(());
                }
            };
        }
        self.state = State::Chunked(chunk);
        Ok(())
    }
}

fn hex_value(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some((b - b'0') as u64),
        b'a'..=b'f' => Some((b - b'a' + 10) as u64),
        b'A'..=b'F' => Some((b - b'A' + 10) as u64),
        _ => None,
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn last_token(value: &[u8]) -> &[u8] {
    trim(value.rsplit(|&b| b == b',').next().unwrap_or(value))
}

fn parse_decimal(value: &[u8]) -> Option<u64> {
    let v = trim(value);
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `wire` split at every position (two reads) and checks the outcome is the same.
    fn parse_split(wire: &[u8], head: bool) -> Result<(Response, usize), ParseError> {
        let mut first: Option<Result<(Response, usize), ParseError>> = None;
        for split in 0..=wire.len() {
            let r = parse_in_two(wire, split, head);
            match &first {
                None => first = Some(r),
                Some(f) => assert_eq!(f, &r, "split at {split}"),
            }
        }
        first.unwrap_or(Err(ParseError::Incomplete))
    }

    fn parse_in_two(
        wire: &[u8],
        split: usize,
        head: bool,
    ) -> Result<(Response, usize), ParseError> {
        let mut p = ResponseParser::new(head);
        let mut buf = wire[..split].to_vec();
        let mut total = 0;
        let mut next = split;
        loop {
            match p.parse(&buf)? {
                Progress::Complete { consumed, response } => {
                    return Ok((response, total + consumed));
                }
                Progress::Partial { consumed } => {
                    total += consumed;
                    buf.drain(..consumed);
                    if next >= wire.len() {
                        return p.finish().map(|r| (r, total + buf.len()));
                    }
                    buf.extend_from_slice(&wire[next..]);
                    next = wire.len();
                }
            }
        }
    }

    #[test]
    fn content_length() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
        let (r, n) = parse_split(&wire[..wire.len() - 5], false).unwrap();
        assert_eq!(
            (r.status, r.keep_alive, r.body_bytes, n),
            (200, true, 5, 43)
        );
        let mut p = ResponseParser::new(false);
        assert!(matches!(
            p.parse(wire),
            Ok(Progress::Complete { consumed: 43, .. })
        ));
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let wire = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
            5;name=v\r\nhello\r\nA \r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
        let (r, n) = parse_split(wire, false).unwrap();
        assert_eq!((r.status, n), (201, wire.len()));
    }

    #[test]
    fn close_delimited() {
        let wire = b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nsome body";
        let (r, n) = parse_split(wire, false).unwrap();
        assert_eq!((r.keep_alive, r.body_bytes, n), (false, 9, wire.len()));
    }

    #[test]
    fn head_and_no_body_statuses() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
        assert_eq!(parse_split(wire, true).unwrap().0.body_bytes, 0);
        let wire = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(parse_split(wire, false).unwrap().0.status, 204);
    }

    #[test]
    fn interim_continue_skipped() {
        let wire =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse_split(wire, false).unwrap().0.status, 404);
    }

    #[test]
    fn connection_close_and_http10() {
        let wire = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        assert!(!parse_split(wire, false).unwrap().0.keep_alive);
        let wire = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert!(!parse_split(wire, false).unwrap().0.keep_alive);
        let wire = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
        assert!(parse_split(wire, false).unwrap().0.keep_alive);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse_split(b"garbage\r\n\r\n", false),
            Err(ParseError::Head(_))
        ));
        assert_eq!(
            parse_split(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false),
            Err(ParseError::ContentLength)
        );
        assert_eq!(
            parse_split(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                false
            ),
            Err(ParseError::ContentLength)
        );
        assert_eq!(
            parse_split(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZ\r\n",
                false
            ),
            Err(ParseError::Chunk)
        );
        assert_eq!(
            parse_split(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false),
            Err(ParseError::Incomplete)
        );
        assert_eq!(
            parse_split(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
                false
            ),
            Err(ParseError::Incomplete)
        );
    }
}
