//! Errors of the sans-I/O HTTP layer.

use super::Status;

/// Why a request head, a `Content-Length` value or a message body was rejected.
///
/// Every variant maps to the status code a server should answer with, see [`ParseError::status`];
/// after any of them the connection must be closed, because the framing of the byte stream can no
/// longer be trusted. A client reading responses with [`BodyDecoder`](super::BodyDecoder) gets
/// the same errors for their bodies.
///
/// ```
/// use tcpserver::http::{parse_request, Limits, ParseError, Status};
///
/// let err = parse_request(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", &Limits::default())
///     .unwrap_err();
/// assert_eq!(err, ParseError::InvalidContentLength);
/// assert_eq!(err.status(), Status::BAD_REQUEST);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The request line or a header is not valid HTTP/1.x syntax.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// The request line is longer than [`Limits::max_request_line`](super::Limits).
    #[error("request line too long")]
    UriTooLong,
    /// The request head is longer than [`Limits::max_head`](super::Limits).
    #[error("request head too large")]
    HeadTooLarge,
    /// More header fields than [`Limits::max_headers`](super::Limits).
    #[error("too many header fields")]
    TooManyHeaders,
    /// A `Content-Length` value is not a decimal number.
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// Several `Content-Length` values disagree.
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// Both `Content-Length` and `Transfer-Encoding` are present (a request-smuggling vector).
    #[error("both Content-Length and Transfer-Encoding")]
    LengthAndTransferEncoding,
    /// `Transfer-Encoding` where `chunked` is not the final coding, or in an HTTP/1.0 request.
    #[error("invalid Transfer-Encoding")]
    InvalidTransferEncoding,
    /// A transfer coding this parser does not know.
    #[error("unsupported transfer coding")]
    UnsupportedTransferEncoding,
    /// An HTTP/1.1 request without exactly one `Host` header.
    #[error("missing or repeated Host header")]
    InvalidHost,
    /// Malformed chunked body framing (chunk size, chunk end, trailers).
    #[error("invalid chunked body")]
    InvalidChunk,
}

impl ParseError {
    /// The status code to answer this error with before closing the connection.
    ///
    /// ```
    /// use tcpserver::http::{ParseError, Status};
    /// assert_eq!(ParseError::UriTooLong.status(), Status::URI_TOO_LONG);
    /// assert_eq!(ParseError::TooManyHeaders.status().code(), 431);
    /// ```
    pub fn status(&self) -> Status {
        match self {
            ParseError::UriTooLong => Status::URI_TOO_LONG,
            ParseError::HeadTooLarge | ParseError::TooManyHeaders => {
                Status::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            ParseError::UnsupportedTransferEncoding => Status::NOT_IMPLEMENTED,
            ParseError::Malformed(_)
            | ParseError::InvalidContentLength
            | ParseError::ConflictingContentLength
            | ParseError::LengthAndTransferEncoding
            | ParseError::InvalidTransferEncoding
            | ParseError::InvalidHost
            | ParseError::InvalidChunk => Status::BAD_REQUEST,
        }
    }
}
