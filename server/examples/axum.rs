//! axum 0.8 over tcpserver connections: a `Router` served per connection by hyper's HTTP/1.1
//! connection driver (`hyper_util::rt::TokioIo` adapts the tokio-io `Connection`). Wired here:
//!
//! - the peer address reaches the handlers as axum's `ConnectInfo<PeerAddr>` (TCP address, or
//!   uid/gid/pid for a Unix domain client), inserted into every request of the connection;
//! - graceful shutdown: on Ctrl-C / SIGTERM the server stops accepting, and every connection
//!   hears of it through `shutdown_started()` and calls hyper's `graceful_shutdown()`, so an
//!   idle keep-alive connection closes at once (instead of holding the shutdown until the
//!   deadline) and a request in flight is answered first.
//!
//! ```text
//! cargo run --example axum -- --addr 127.0.0.1:8080
//! curl http://127.0.0.1:8080/hello/world
//! ```

mod common;

use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Path};
use axum::routing::get;
use hyper::body::Incoming;
use tcpserver::PeerAddr;
use tower::ServiceExt;

/// Time the open connections get after a shutdown signal.
const DEADLINE: Duration = Duration::from_secs(120);

async fn hello(Path(name): Path<String>, ConnectInfo(peer): ConnectInfo<PeerAddr>) -> String {
    format!("Hello {name}, from {peer}\r\n")
}

fn app() -> Router {
    Router::new()
        .route("/hello/{name}", get(hello))
        .route("/", get(|| async { "Hello World!\r\n" }))
}

/// Serves one connection with the router until it ends or the server shuts down (the select
/// of `shutdown_started()` and hyper's `graceful_shutdown()` is in `common::serve_http1`).
async fn serve_http(app: Router, conn: tcpserver::Connection) {
    let peer = conn.peer();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        // A Router is always ready: `oneshot` is its usual call.
        app.clone().oneshot(req)
    });
    common::serve_http1(conn, service).await;
}

fn main() -> anyhow::Result<()> {
    common::init_tracing();
    let args = common::Args::parse()?;
    let server = args.builder().build()?;
    let app = app();
    common::serve_until_signal(server, args.per_core, DEADLINE, move |conn| {
        serve_http(app.clone(), conn)
    })
}
