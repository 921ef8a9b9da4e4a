//! Helpers for loadgen's tests: the binary run as a user runs it ([`loadgen`], `cli.rs`); two
//! HTTP/1.1 test servers, one whose answer is chosen by the request path, over plain TCP or TLS
//! ([`TestServer`], `path_server.rs`), and one that answers every request with the same
//! misbehaviour ([`FaultServer`], `fault_server.rs`); and, included by path from the library's
//! test support, the waiting helpers (`harness.rs`: [`PATIENCE`], [`eventually`], [`runtime`]).

#![allow(dead_code)] // each test binary uses a different subset

mod cli;
mod fault_server;
#[path = "../../../server/tests/support/harness.rs"]
mod harness;
mod path_server;

#[allow(unused_imports)] // not every test uses every helper
pub use cli::{LOADGEN, json, loadgen, loadgen_ok};
#[allow(unused_imports)]
pub use fault_server::{Fault, FaultServer, FaultStats};
#[allow(unused_imports)]
pub use harness::*;
#[allow(unused_imports)]
pub use path_server::TestServer;

/// The first request of a buffer, as the test servers see it.
struct RequestHead {
    path: String,
    /// `Connection: close` was sent.
    close: bool,
    /// Bytes of the head and its `Content-Length` body (which may not all be in the buffer yet).
    len: usize,
}

/// Parses the head of the first request in `buf` (httparse): `Ok(None)` while it is incomplete.
fn parse_request(buf: &[u8]) -> Result<Option<RequestHead>, httparse::Error> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head_len) = req.parse(buf)? else {
        return Ok(None);
    };
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let body_len = header("content-length").map_or(0, |v| v.parse().unwrap_or(0));
    let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    Ok(Some(RequestHead {
        path: req.path.unwrap_or("/").to_string(),
        close,
        len: head_len + body_len,
    }))
}
