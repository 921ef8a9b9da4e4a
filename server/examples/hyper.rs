//! hyper 1.x serving HTTP/1.1 over tcpserver connections (`hyper_util::rt::TokioIo` adapts
//! the tokio-io `Connection`): the ecosystem runs on top unchanged. Two things a real service
//! needs are wired here:
//!
//! - the peer address reaches the request handler (captured per connection);
//! - graceful shutdown: on Ctrl-C / SIGTERM the server stops accepting, and every connection
//!   hears of it through `shutdown_started()` and calls hyper's `graceful_shutdown()`, so an
//!   idle keep-alive connection closes at once (instead of holding the shutdown until the
//!   deadline) and a request in flight is answered first.
//!
//! ```text
//! cargo run --example hyper -- --addr 127.0.0.1:8080
//! curl http://127.0.0.1:8080/
//! ```

mod common;

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use tcpserver::PeerAddr;

/// Time the open connections get after a shutdown signal.
const DEADLINE: Duration = Duration::from_secs(120);

async fn hello(
    req: Request<Incoming>,
    peer: PeerAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!(
        "Hello World! You asked for {} from {peer}\r\n",
        req.uri().path()
    );
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// Serves one connection with hyper until it ends or the server shuts down (the select of
/// `shutdown_started()` and hyper's `graceful_shutdown()` is in `common::serve_http1`).
async fn serve_http(conn: tcpserver::Connection) {
    let peer = conn.peer();
    common::serve_http1(conn, service_fn(move |req| hello(req, peer))).await;
}

fn main() -> anyhow::Result<()> {
    common::init_tracing();
    let args = common::Args::parse()?;
    let server = args.builder().build()?;
    common::serve_until_signal(server, args.per_core, DEADLINE, serve_http)
}
