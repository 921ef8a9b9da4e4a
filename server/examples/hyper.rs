//! hyper 1.x serving HTTP/1.1 over tcpserver connections (`hyper_util::rt::TokioIo` adapts
//! the tokio-io `Connection`): the ecosystem runs on top unchanged.
//!
//! ```text
//! cargo run --example hyper -- --addr 127.0.0.1:8080
//! curl http://127.0.0.1:8080/
//! ```

mod common;

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("Hello World! You asked for {}\r\n", req.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

fn main() -> anyhow::Result<()> {
    common::init_tracing();
    let args = common::Args::parse()?;
    let server = args.builder().build()?;
    common::announce(server.local_addr());
    let handler = |conn: tcpserver::Connection| async move {
        let io = TokioIo::new(conn);
        if let Err(e) = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service_fn(hello))
            .await
        {
            tracing::debug!(error = %e, "HTTP connection ended with an error");
        }
    };
    if args.per_core {
        server.serve_per_core(handler)?;
    } else {
        tokio::runtime::Runtime::new()?.block_on(server.serve(handler))?;
    }
    Ok(())
}
