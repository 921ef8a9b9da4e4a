//! The echo server of the Go library's README: every connection is copied onto itself, with
//! `splice(2)` on Linux (the bytes never enter user space).
//!
//! ```text
//! cargo run --example echo -- --addr 127.0.0.1:5000 [--per-core] [--max-accept N]
//! nc 127.0.0.1 5000
//! ```

mod common;

fn main() -> anyhow::Result<()> {
    common::init_tracing();
    let args = common::Args::parse()?;
    let server = args.builder().build()?;
    common::announce(server.local_addr());
    let handler = |mut conn: tcpserver::Connection| async move {
        if let Err(e) = conn.echo().await {
            tracing::debug!(peer = %conn.peer_addr(), error = %e, "echo ended");
        }
    };
    if args.per_core {
        server.serve_per_core(handler)?;
    } else {
        tokio::runtime::Runtime::new()?.block_on(server.serve(handler))?;
    }
    Ok(())
}
