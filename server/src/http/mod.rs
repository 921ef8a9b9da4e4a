//! Sans-I/O HTTP/1.1 building blocks: a request parser, the body-framing decoder (for requests
//! and responses: `Content-Length`, chunked and close-delimited bodies), a response encoder and a
//! cached `Date` header.
//!
//! Everything here works on byte buffers and never touches a socket, so it is cheap to unit test
//! and to fuzz. Parsing does not allocate: [`parse_request`] borrows from the input buffer and
//! returns a small [`Copy`] [`Request`]; [`ResponseHead::encode`] appends to a caller-owned,
//! reusable `Vec<u8>`.
//!
//! # Example: answer every complete request in a buffer
//!
//! ```
//! use tcpserver::http::{parse_request, BodyDecoder, Limits, Parsed, ResponseHead, Status};
//!
//! let input = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n";
//! let limits = Limits::default();
//! let mut out = Vec::new();
//! let mut pos = 0;
//! while let Parsed::Complete(req) = parse_request(&input[pos..], &limits)? {
//!     pos += req.head_len();
//!     // Skip the request body (none here).
//!     let mut body = BodyDecoder::new(req.body());
//!     pos += body.discard(&input[pos..])?;
//!     assert!(body.is_done());
//!     ResponseHead::new(Status::OK)
//!         .content_length(5)
//!         .keep_alive(req.keep_alive())
//!         .encode(&mut out);
//!     out.extend_from_slice(b"hello");
//! }
//! assert_eq!(pos, input.len());
//! assert_eq!(out.windows(15).filter(|w| w == b"HTTP/1.1 200 OK").count(), 2);
//! # Ok::<(), tcpserver::http::ParseError>(())
//! ```

mod date;
mod error;
mod framing;
mod request;
mod response;

pub use date::{HTTP_DATE_LEN, append_http_date, http_date};
pub use error::ParseError;
pub use framing::{BodyDecoder, BodyKind, parse_content_length};
pub use request::{Limits, Parsed, Request, Version, parse_request};
pub use response::{CONTINUE_100, ResponseHead, Status};
