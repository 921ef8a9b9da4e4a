//! Allocation-free, sans-I/O HTTP/1.x response parser.
//!
//! Feed it the bytes read so far; it parses the head with `httparse` (headers on the stack) and then
//! *skips* body bytes without copying them, with the library's body-framing decoder
//! ([`tcpserver::http::BodyDecoder`], the one the server uses for request bodies):
//! `Content-Length`, `Transfer-Encoding: chunked` (chunk sizes, extensions and trailers decoded
//! incrementally and strictly, so a chunk header may be split across reads) and close-delimited
//! bodies (ended by [`ResponseParser::finish`] at end of stream). What is particular to
//! responses stays here: interim `1xx` responses (other than `101`) are skipped, and `204`,
//! `304`, `1xx` and responses to `HEAD` have no body whatever their headers say.
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

use tcpserver::http::{BodyDecoder, BodyKind, parse_content_length};

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
    Body(BodyDecoder),
    Done,
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
            match &mut self.state {
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
                State::Body(decoder) => {
                    let n = decoder
                        .discard(&buf[pos..])
                        .map_err(|_| ParseError::Chunk)?;
                    pos += n;
                    self.body_bytes += n as u64;
                    if !decoder.is_done() {
                        return Ok(Progress::Partial { consumed: pos });
                    }
                    self.state = State::Done;
                }
                State::Done => {
                    return Ok(Progress::Complete {
                        consumed: pos,
                        response: self.response(),
                    });
                }
            }
        }
    }

    /// Call at end of stream: completes a close-delimited body, otherwise the response was cut short.
    pub fn finish(&mut self) -> Result<Response, ParseError> {
        let complete = match &mut self.state {
            State::Head => false,
            State::Body(decoder) => decoder.end_of_stream(),
            State::Done => true,
        };
        if !complete {
            return Err(ParseError::Incomplete);
        }
        self.state = State::Done;
        Ok(self.response())
    }

    fn response(&self) -> Response {
        Response {
            status: self.status,
            keep_alive: self.keep_alive,
            body_bytes: self.body_bytes,
        }
    }

    /// Takes what matters from the head of a final response: keep-alive and the body framing.
    fn head_done(
        &mut self,
        status: u16,
        version: u8,
        headers: &[httparse::Header<'_>],
    ) -> Result<(), ParseError> {
        self.status = status;
        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        let mut has_te = false;
        let (mut close, mut keep_alive) = (false, false);
        for h in headers {
            if h.name.eq_ignore_ascii_case("content-length") {
                let v = parse_content_length(h.value).map_err(|_| ParseError::ContentLength)?;
                if content_length.is_some_and(|c| c != v) {
                    return Err(ParseError::ContentLength);
                }
                content_length = Some(v);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                has_te = true;
                // Chunked only counts as the final coding.
                let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
                chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
            } else if h.name.eq_ignore_ascii_case("connection") {
                for token in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    close |= token.eq_ignore_ascii_case(b"close");
                    keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
        }
        // HTTP/1.0 closes unless asked to keep alive; an explicit close always wins.
        self.keep_alive = !close && (version >= 1 || keep_alive);
        let no_body =
            self.head_request || status == 204 || status == 304 || (100..200).contains(&status);
        // RFC 9112 6.3: Transfer-Encoding overrides Content-Length; a final coding other than
        // chunked, or neither header, means the body runs until the server closes.
        let kind = match (no_body, has_te, content_length) {
            (true, _, _) => BodyKind::Empty,
            (false, true, _) if chunked => BodyKind::Chunked,
            (false, false, Some(len)) => BodyKind::Length(len),
            _ => BodyKind::UntilClose,
        };
        if kind == BodyKind::UntilClose {
            self.keep_alive = false;
        }
        let decoder = BodyDecoder::new(kind);
        self.state = if decoder.is_done() {
            State::Done
        } else {
            State::Body(decoder)
        };
        Ok(())
    }
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
    fn length_lists_and_transfer_coding_precedence() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc";
        assert_eq!(parse_split(wire, false).unwrap().0.body_bytes, 3);
        // Transfer-Encoding wins over Content-Length; a final coding other than chunked is
        // close-delimited.
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(parse_split(wire, false).unwrap().1, wire.len());
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n";
        let (r, n) = parse_split(wire, false).unwrap();
        assert_eq!((r.keep_alive, r.body_bytes, n), (false, 5, wire.len()));
    }

    #[test]
    fn connection_close_and_http10() {
        let wire = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        assert!(!parse_split(wire, false).unwrap().0.keep_alive);
        let wire = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert!(!parse_split(wire, false).unwrap().0.keep_alive);
        let wire = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
        assert!(parse_split(wire, false).unwrap().0.keep_alive);
        let wire = b"HTTP/1.1 200 OK\r\nConnection: close, keep-alive\r\nContent-Length: 0\r\n\r\n";
        assert!(
            !parse_split(wire, false).unwrap().0.keep_alive,
            "close wins"
        );
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
        // The request-smuggling checks of the shared decoder hold for responses too.
        // (An empty chunk size, a bare LF, a trailer line without a colon.)
        let smuggling: [&[u8]; 3] = [
            b"\r\nhi\r\n0\r\n\r\n",
            b"2\nhi\r\n0\r\n\r\n",
            b"0\r\nX\r\n\r\n",
        ];
        for bad in smuggling {
            let wire = [
                &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
                bad,
            ]
            .concat();
            assert_eq!(parse_split(&wire, false), Err(ParseError::Chunk), "{bad:?}");
        }
        assert_eq!(
            parse_split(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
                false
            ),
            Err(ParseError::Incomplete)
        );
    }
}
