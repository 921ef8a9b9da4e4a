//! A TCP proxy: every client is connected to `--upstream` and the bytes flow both ways with
//! `Connection::proxy` (zero-copy `splice(2)` on Linux, half-close passed through).
//!
//! ```text
//! cargo run --example proxy -- --addr 127.0.0.1:6380 --upstream 127.0.0.1:6379
//! redis-cli -p 6380 ping
//! ```

mod common;

use std::time::Duration;

use tcpserver::TimeoutExt;
use tokio::net::TcpStream;

fn main() -> anyhow::Result<()> {
    common::init_tracing();
    let args = common::Args::parse()?;
    let upstream = args
        .upstream
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--upstream HOST:PORT is required"))?;
    let server = args.builder().build()?;
    common::announce(server.local_addr());
    let handler = move |mut conn: tcpserver::Connection| {
        let upstream = upstream.clone();
        async move {
            let dialed = TcpStream::connect(upstream.as_str())
                .with_timeout(Duration::from_secs(5))
                .await;
            let mut up = match dialed {
                Ok(Ok(up)) => up,
                Ok(Err(e)) => return tracing::warn!(error = %e, "cannot reach the upstream"),
                Err(_) => return tracing::warn!("connecting to the upstream timed out"),
            };
            let _ = up.set_nodelay(true);
            match conn.proxy(&mut up).await {
                Ok((sent, received)) => {
                    tracing::info!(peer = %conn.peer(), sent, received, "proxied")
                }
                Err(e) => tracing::debug!(peer = %conn.peer(), error = %e, "proxy ended"),
            }
        }
    };
    if args.per_core {
        server.serve_per_core(handler)?;
    } else {
        tokio::runtime::Runtime::new()?.block_on(server.serve(handler))?;
    }
    Ok(())
}
