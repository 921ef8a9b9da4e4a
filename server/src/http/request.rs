//! HTTP/1.x request-head parsing on top of `httparse`, without allocation.

use std::mem::MaybeUninit;

use super::{BodyKind, ParseError, parse_content_length};

/// The most header fields [`Limits::max_headers`] can allow (the size of the on-stack array).
const HEADER_SLOTS: usize = 128;

/// Size limits applied by [`parse_request`].
///
/// ```
/// use tcpserver::http::Limits;
/// let limits = Limits::default().max_request_line(4096).max_head(8192).max_headers(32);
/// assert_eq!(limits.get_max_headers(), 32);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_request_line: usize,
    max_head: usize,
    max_headers: usize,
}

impl Default for Limits {
    /// 8 KiB request line, 16 KiB head, 64 header fields.
    fn default() -> Self {
        Limits {
            max_request_line: 8 * 1024,
            max_head: 16 * 1024,
            max_headers: 64,
        }
    }
}

impl Limits {
    /// Longest accepted request line in bytes (without CRLF); longer ones fail with
    /// [`ParseError::UriTooLong`] (414).
    pub fn max_request_line(mut self, bytes: usize) -> Self {
        self.max_request_line = bytes;
        self
    }

    /// Longest accepted request head (request line + header fields + blank line) in bytes; longer
    /// ones fail with [`ParseError::HeadTooLarge`] (431).
    pub fn max_head(mut self, bytes: usize) -> Self {
        self.max_head = bytes;
        self
    }

    /// Most header fields accepted (at most 128); more fail with [`ParseError::TooManyHeaders`]
    /// (431).
    pub fn max_headers(mut self, count: usize) -> Self {
        self.max_headers = count.min(HEADER_SLOTS);
        self
    }

    /// The request-line limit in bytes.
    pub fn get_max_request_line(&self) -> usize {
        self.max_request_line
    }

    /// The request-head limit in bytes.
    pub fn get_max_head(&self) -> usize {
        self.max_head
    }

    /// The header-count limit.
    pub fn get_max_headers(&self) -> usize {
        self.max_headers
    }
}

/// HTTP version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`: the connection closes after the response unless the client asks for
    /// `Connection: keep-alive`.
    Http10,
    /// `HTTP/1.1`: the connection stays open unless either side sends `Connection: close`.
    Http11,
}

/// A parsed request head, borrowing method and target from the input buffer.
///
/// ```
/// use tcpserver::http::{parse_request, BodyKind, Limits, Parsed, Version};
///
/// let buf = b"POST /upload HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc";
/// let Parsed::Complete(req) = parse_request(buf, &Limits::default())? else { panic!() };
/// assert_eq!((req.method(), req.path()), ("POST", "/upload"));
/// assert_eq!(req.version(), Version::Http10);
/// assert!(req.keep_alive());
/// assert_eq!(req.body(), BodyKind::Length(3));
/// assert_eq!(&buf[req.head_len()..], b"abc");
/// # Ok::<(), tcpserver::http::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'b> {
    method: &'b str,
    path: &'b str,
    version: Version,
    keep_alive: bool,
    expect_continue: bool,
    body: BodyKind,
    head_len: usize,
}

impl<'b> Request<'b> {
    /// The request method, e.g. `GET`.
    pub fn method(&self) -> &'b str {
        self.method
    }

    /// The request target, e.g. `/index.html?x=1`.
    pub fn path(&self) -> &'b str {
        self.path
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Whether the connection may stay open after the response (version default and `Connection`
    /// header combined).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Whether the client sent `Expect: 100-continue` (HTTP/1.1 only) and waits for an interim
    /// [`CONTINUE_100`](super::CONTINUE_100) before sending its body.
    pub fn expect_continue(&self) -> bool {
        self.expect_continue
    }

    /// Whether this is a `HEAD` request (its response carries no body).
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }

    /// How the body that follows the head is framed.
    pub fn body(&self) -> BodyKind {
        self.body
    }

    /// Length of the head in bytes (including leading empty lines and the final CRLF): the body
    /// or the next request starts at this offset.
    pub fn head_len(&self) -> usize {
        self.head_len
    }
}

/// Outcome of [`parse_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<'b> {
    /// A complete request head.
    Complete(Request<'b>),
    /// The buffer holds only the beginning of a request head (within the limits): read more.
    Partial,
}

/// Parses one request head from the start of `buf`.
///
/// Returns [`Parsed::Partial`] while the head is incomplete and within `limits`. Never panics and
/// never allocates; the result borrows from `buf`.
///
/// ```
/// use tcpserver::http::{parse_request, Limits, ParseError, Parsed};
///
/// let limits = Limits::default();
/// assert_eq!(parse_request(b"GET / HTTP/1.1\r\nHost:", &limits)?, Parsed::Partial);
/// let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(10_000));
/// assert_eq!(parse_request(long.as_bytes(), &limits), Err(ParseError::UriTooLong));
/// # Ok::<(), ParseError>(())
/// ```
pub fn parse_request<'b>(buf: &'b [u8], limits: &Limits) -> Result<Parsed<'b>, ParseError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'b>>::uninit() }; HEADER_SLOTS];
    let slots = &mut slots[..limits.max_headers.min(HEADER_SLOTS)];
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(buf, slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return partial(buf, limits),
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::TooManyHeaders),
        Err(e) => {
            // A too-long request line may be reported as a syntax error once its first bytes are
            // rejected; report the limit when it is the cause.
            check_request_line(buf, limits)?;
            return Err(ParseError::Malformed(malformed_reason(e)));
        }
    };
    let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(ParseError::Malformed("incomplete request line"));
    };
    // `method` and `path` borrow from `buf`: their positions give the request-line length
    // without another scan.
    let line_start = method.as_ptr() as usize - buf.as_ptr() as usize;
    let line_end = path.as_ptr() as usize - buf.as_ptr() as usize + path.len() + " HTTP/1.1".len();
    if line_end - line_start > limits.max_request_line {
        return Err(ParseError::UriTooLong);
    }
    if head_len > limits.max_head {
        return Err(ParseError::HeadTooLarge);
    }
    let version = if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    let mut head = HeadFields::default();
    for h in req.headers.iter() {
        head.add(h.name, h.value)?;
    }
    head.finish(method, path, version, head_len)
}

fn partial<'b>(buf: &[u8], limits: &Limits) -> Result<Parsed<'b>, ParseError> {
    check_request_line(buf, limits)?;
    if buf.len() > limits.max_head {
        return Err(ParseError::HeadTooLarge);
    }
    Ok(Parsed::Partial)
}

/// Fails with `UriTooLong` if the first non-empty line is (or will be) longer than the limit.
fn check_request_line(buf: &[u8], limits: &Limits) -> Result<(), ParseError> {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = &buf[start..];
    let window = &line[..line.len().min(limits.max_request_line.saturating_add(2))];
    match memchr::memchr(b'\n', window) {
        Some(_) => Ok(()),
        None if line.len() > limits.max_request_line + 1 => Err(ParseError::UriTooLong),
        None => Ok(()),
    }
}

fn malformed_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Token => "invalid token",
        httparse::Error::Version => "invalid HTTP version",
        _ => "invalid request",
    }
}

/// The header fields that matter for framing and connection management.
#[derive(Default)]
struct HeadFields {
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked_last: bool,
    unknown_coding: bool,
    connection_close: bool,
    connection_keep_alive: bool,
    expect_continue: bool,
    hosts: u8,
}

impl HeadFields {
    fn add(&mut self, name: &str, value: &[u8]) -> Result<(), ParseError> {
        // Dispatch on the length first: most headers are rejected with one comparison.
        match name.len() {
            4 if name.eq_ignore_ascii_case("host") => self.hosts = self.hosts.saturating_add(1),
            6 if name.eq_ignore_ascii_case("expect") => {
                self.expect_continue = value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
            }
            10 if name.eq_ignore_ascii_case("connection") => {
                for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if token.eq_ignore_ascii_case(b"close") {
                        self.connection_close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        self.connection_keep_alive = true;
                    }
                }
            }
            14 if name.eq_ignore_ascii_case("content-length") => {
                let n = parse_content_length(value)?;
                match self.content_length {
                    Some(prev) if prev != n => return Err(ParseError::ConflictingContentLength),
                    _ => self.content_length = Some(n),
                }
            }
            17 if name.eq_ignore_ascii_case("transfer-encoding") => {
                self.transfer_encoding = true;
                for coding in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if coding.is_empty() {
                        continue;
                    }
                    if self.chunked_last {
                        // `chunked` must be the final coding, exactly once (RFC 9112 6.1).
                        return Err(ParseError::InvalidTransferEncoding);
                    }
                    if coding.eq_ignore_ascii_case(b"chunked") {
                        self.chunked_last = true;
                    } else if !is_known_coding(coding) {
                        self.unknown_coding = true;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish<'b>(
        self,
        method: &'b str,
        path: &'b str,
        version: Version,
        head_len: usize,
    ) -> Result<Parsed<'b>, ParseError> {
        if version == Version::Http11 && self.hosts != 1 {
            return Err(ParseError::InvalidHost);
        }
        let body = match (self.transfer_encoding, self.content_length) {
            (true, Some(_)) => return Err(ParseError::LengthAndTransferEncoding),
            (true, None) => {
                if version == Version::Http10 {
                    return Err(ParseError::InvalidTransferEncoding);
                }
                if self.unknown_coding {
                    return Err(ParseError::UnsupportedTransferEncoding);
                }
                if !self.chunked_last {
                    return Err(ParseError::InvalidTransferEncoding);
                }
                BodyKind::Chunked
            }
            (false, Some(0) | None) => BodyKind::Empty,
            (false, Some(n)) => BodyKind::Length(n),
        };
        let keep_alive = match version {
            Version::Http11 => !self.connection_close,
            Version::Http10 => self.connection_keep_alive && !self.connection_close,
        };
        Ok(Parsed::Complete(Request {
            method,
            path,
            version,
            keep_alive,
            expect_continue: self.expect_continue && version == Version::Http11,
            body,
            head_len,
        }))
    }
}

/// Codings a body may carry under `chunked`; we only discard bodies, so any of them is fine.
fn is_known_coding(coding: &[u8]) -> bool {
    [
        &b"gzip"[..],
        b"x-gzip",
        b"deflate",
        b"compress",
        b"x-compress",
    ]
    .iter()
    .any(|known| coding.eq_ignore_ascii_case(known))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<Parsed<'_>, ParseError> {
        parse_request(buf, &Limits::default())
    }

    fn complete(buf: &[u8]) -> Request<'_> {
        match parse(buf) {
            Ok(Parsed::Complete(r)) => r,
            other => panic!("expected a complete request, got {other:?}"),
        }
    }

    #[test]
    fn simple_get() {
        let r = complete(b"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.method(), "GET");
        assert_eq!(r.path(), "/a?b");
        assert_eq!(r.version(), Version::Http11);
        assert!(r.keep_alive());
        assert_eq!(r.body(), BodyKind::Empty);
        assert_eq!(r.head_len(), 30);
    }

    #[test]
    fn keep_alive_semantics() {
        assert!(!complete(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive());
        assert!(
            !complete(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, CLOSE\r\n\r\n").keep_alive()
        );
        assert!(!complete(b"GET / HTTP/1.0\r\n\r\n").keep_alive());
        assert!(complete(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive());
        assert!(!complete(b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive());
    }

    #[test]
    fn content_length() {
        let r = complete(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n");
        assert_eq!(r.body(), BodyKind::Length(12));
        let r = complete(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(r.body(), BodyKind::Empty);
        let r = complete(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7, 7\r\n\r\n");
        assert_eq!(r.body(), BodyKind::Length(7));
        let same = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n";
        assert_eq!(complete(same).body(), BodyKind::Length(7));
        for bad in [
            &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1a\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        ] {
            assert_eq!(parse(bad), Err(ParseError::InvalidContentLength));
        }
        let conflict =
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(parse(conflict), Err(ParseError::ConflictingContentLength));
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n"),
            Err(ParseError::ConflictingContentLength)
        );
    }

    #[test]
    fn transfer_encoding() {
        let r = complete(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(r.body(), BodyKind::Chunked);
        let r = complete(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n");
        assert_eq!(r.body(), BodyKind::Chunked);
        let cases: [(&[u8], ParseError); 5] = [
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                ParseError::LengthAndTransferEncoding,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
                ParseError::InvalidTransferEncoding,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                ParseError::InvalidTransferEncoding,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo, chunked\r\n\r\n",
                ParseError::UnsupportedTransferEncoding,
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                ParseError::InvalidTransferEncoding,
            ),
        ];
        for (input, err) in cases {
            assert_eq!(parse(input), Err(err), "{}", String::from_utf8_lossy(input));
        }
        assert_eq!(
            ParseError::UnsupportedTransferEncoding.status().code(),
            501,
            "unknown codings are 501"
        );
    }

    #[test]
    fn host_required_in_http11() {
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n\r\n"),
            Err(ParseError::InvalidHost)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            Err(ParseError::InvalidHost)
        );
        complete(b"GET / HTTP/1.0\r\n\r\n");
    }

    #[test]
    fn expect_continue() {
        let r = complete(
            b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n",
        );
        assert!(r.expect_continue());
        let r = complete(b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        assert!(!r.expect_continue());
    }

    #[test]
    fn partial_and_limits() {
        assert_eq!(parse(b""), Ok(Parsed::Partial));
        assert_eq!(parse(b"GE"), Ok(Parsed::Partial));
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(Parsed::Partial));
        let limits = Limits::default()
            .max_request_line(20)
            .max_head(60)
            .max_headers(2);
        let p = |b: &'static [u8]| parse_request(b, &limits);
        assert_eq!(p(b"GET /0123456789abcdefghij"), Err(ParseError::UriTooLong));
        assert_eq!(
            p(b"GET /0123456789abcdefghij HTTP/1.1\r\nHost: x\r\n\r\n"),
            Err(ParseError::UriTooLong)
        );
        assert!(matches!(
            p(b"GET /0123 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Ok(Parsed::Complete(_))
        ));
        assert_eq!(
            p(b"GET / HTTP/1.1\r\nHost: x\r\nA: b\r\nC: d\r\n\r\n"),
            Err(ParseError::TooManyHeaders)
        );
        assert_eq!(
            p(b"GET / HTTP/1.1\r\nHost: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            Err(ParseError::HeadTooLarge)
        );
        assert_eq!(
            p(b"GET / HTTP/1.1\r\nHost: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n\r\n"),
            Err(ParseError::HeadTooLarge)
        );
        assert_eq!(ParseError::HeadTooLarge.status().code(), 431);
        assert_eq!(ParseError::UriTooLong.status().code(), 414);
    }

    #[test]
    fn malformed() {
        for bad in [
            &b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n"[..],
            b"GET / HTTP/2.0\r\n\r\n",
            b"\x00\x01\x02\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n\x7f\r\n\r\n",
            b"GET\r\n\r\n",
        ] {
            assert!(
                matches!(parse(bad), Err(ParseError::Malformed(_))),
                "{:?} -> {:?}",
                String::from_utf8_lossy(bad),
                parse(bad)
            );
        }
    }

    #[test]
    fn leading_empty_lines_are_skipped() {
        let r = complete(b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.head_len(), 31);
    }

    #[test]
    fn never_panics_on_prefixes() {
        let req = b"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        for n in 0..=req.len() {
            let _ = parse(&req[..n]);
        }
    }
}
