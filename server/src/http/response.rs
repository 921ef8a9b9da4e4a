//! Response-head encoding into a reusable buffer.

use std::fmt;

use super::append_http_date;

/// The interim response sent before reading a body announced with `Expect: 100-continue`.
pub const CONTINUE_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// An HTTP status code.
///
/// ```
/// use tcpserver::http::Status;
/// assert_eq!(Status::OK.code(), 200);
/// assert_eq!(Status::BAD_REQUEST.reason(), "Bad Request");
/// assert_eq!(Status::from_code(299).map(|s| s.reason()), Some(""));
/// assert_eq!(Status::from_code(42), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(u16);

impl Status {
    /// 200 OK
    pub const OK: Status = Status(200);
    /// 400 Bad Request
    pub const BAD_REQUEST: Status = Status(400);
    /// 404 Not Found
    pub const NOT_FOUND: Status = Status(404);
    /// 408 Request Timeout
    pub const REQUEST_TIMEOUT: Status = Status(408);
    /// 411 Length Required
    pub const LENGTH_REQUIRED: Status = Status(411);
    /// 413 Content Too Large
    pub const CONTENT_TOO_LARGE: Status = Status(413);
    /// 414 URI Too Long
    pub const URI_TOO_LONG: Status = Status(414);
    /// 431 Request Header Fields Too Large
    pub const REQUEST_HEADER_FIELDS_TOO_LARGE: Status = Status(431);
    /// 500 Internal Server Error
    pub const INTERNAL_SERVER_ERROR: Status = Status(500);
    /// 501 Not Implemented
    pub const NOT_IMPLEMENTED: Status = Status(501);
    /// 503 Service Unavailable
    pub const SERVICE_UNAVAILABLE: Status = Status(503);

    /// A status from its code, if the code has three digits (100..=999).
    pub fn from_code(code: u16) -> Option<Status> {
        (100..=999).contains(&code).then_some(Status(code))
    }

    /// The numeric code.
    pub fn code(&self) -> u16 {
        self.0
    }

    /// The reason phrase, or `""` for codes this type has no name for.
    pub fn reason(&self) -> &'static str {
        match self.0 {
            100 => "Continue",
            200 => "OK",
            204 => "No Content",
            400 => "Bad Request",
            404 => "Not Found",
            408 => "Request Timeout",
            411 => "Length Required",
            413 => "Content Too Large",
            414 => "URI Too Long",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            _ => "",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, self.reason())
    }
}

/// A response head: status line and the framing headers, encoded by [`encode`](Self::encode).
///
/// Always written as `HTTP/1.1` with an explicit `Connection` header, so HTTP/1.0 clients see
/// `keep-alive` when the connection stays open.
///
/// ```
/// use tcpserver::http::{ResponseHead, Status};
///
/// let mut out = Vec::new();
/// ResponseHead::new(Status::OK)
///     .content_type("text/plain")
///     .content_length(14)
///     .keep_alive(false)
///     .date(false)
///     .encode(&mut out);
/// assert_eq!(
///     out,
///     b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: close\r\n\r\n"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead<'a> {
    status: Status,
    server: Option<&'a str>,
    content_type: Option<&'a str>,
    content_length: Option<u64>,
    keep_alive: bool,
    date: bool,
}

impl<'a> ResponseHead<'a> {
    /// A head with `status`, a `Date` header, `Connection: keep-alive` and no other headers.
    pub fn new(status: Status) -> Self {
        ResponseHead {
            status,
            server: None,
            content_type: None,
            content_length: None,
            keep_alive: true,
            date: true,
        }
    }

    /// Adds a `Server` header.
    pub fn server(mut self, server: &'a str) -> Self {
        self.server = Some(server);
        self
    }

    /// Adds a `Content-Type` header.
    pub fn content_type(mut self, content_type: &'a str) -> Self {
        self.content_type = Some(content_type);
        self
    }

    /// Adds a `Content-Length` header.
    pub fn content_length(mut self, len: u64) -> Self {
        self.content_length = Some(len);
        self
    }

    /// `Connection: keep-alive` (true, the default) or `Connection: close`.
    pub fn keep_alive(mut self, keep_alive: bool) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// Whether to write the cached `Date` header (default true).
    pub fn date(mut self, date: bool) -> Self {
        self.date = date;
        self
    }

    /// Appends the encoded head, ending with the blank line, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let code = self.status.0;
        let mut line = *b"HTTP/1.1 000 ";
        line[9] = b'0' + (code / 100 % 10) as u8;
        line[10] = b'0' + (code / 10 % 10) as u8;
        line[11] = b'0' + (code % 10) as u8;
        out.extend_from_slice(&line);
        out.extend_from_slice(self.status.reason().as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(server) = self.server {
            out.extend_from_slice(b"Server: ");
            out.extend_from_slice(server.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if self.date {
            out.extend_from_slice(b"Date: ");
            append_http_date(out);
            out.extend_from_slice(b"\r\n");
        }
        if let Some(content_type) = self.content_type {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(content_type.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(len) = self.content_length {
            out.extend_from_slice(b"Content-Length: ");
            out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(if self.keep_alive {
            b"Connection: keep-alive\r\n\r\n"
        } else {
            b"Connection: close\r\n\r\n"
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_head() {
        let mut out = b"previous".to_vec();
        ResponseHead::new(Status::REQUEST_HEADER_FIELDS_TOO_LARGE)
            .server("t")
            .content_length(0)
            .encode(&mut out);
        let text = String::from_utf8(out).unwrap();
        let text = text.strip_prefix("previous").unwrap();
        assert!(
            text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\nServer: t\r\nDate: ")
        );
        assert!(text.ends_with(" GMT\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn unnamed_status() {
        let mut out = Vec::new();
        ResponseHead::new(Status::from_code(599).unwrap())
            .date(false)
            .encode(&mut out);
        assert_eq!(out, b"HTTP/1.1 599 \r\nConnection: keep-alive\r\n\r\n");
    }
}
