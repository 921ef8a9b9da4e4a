//! Graceful shutdown on Ctrl-C (SIGINT) or SIGTERM: stop accepting, let open connections
//! finish for up to 10 s, then close the rest; a second signal halts at once.
//!
//! Each connection gets a greeting, then its lines are echoed.
//!
//! ```text
//! cargo run --example graceful_shutdown -- --addr 127.0.0.1:5000
//! nc 127.0.0.1 5000      # then press Ctrl-C in the server's terminal
//! ```

mod common;

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const DEADLINE: Duration = Duration::from_secs(10);

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_tracing();
    let args = common::Args::parse()?;
    let server = args.builder().build()?;
    let handle = server.handle();
    common::announce(server.local_addr());

    tokio::spawn(async move {
        signal().await;
        eprintln!("shutting down: no new connections, {DEADLINE:?} for the open ones");
        handle.shutdown(DEADLINE);
        signal().await;
        eprintln!("second signal: closing everything now");
        handle.halt();
    });

    server
        .serve(|conn: tcpserver::Connection| async move {
            let mut conn = BufReader::new(conn);
            if conn.get_mut().write_all(b"hello\n").await.is_err() {
                return;
            }
            let mut line = String::new();
            while matches!(conn.read_line(&mut line).await, Ok(n) if n > 0) {
                if conn.get_mut().write_all(line.as_bytes()).await.is_err() {
                    return;
                }
                line.clear();
            }
        })
        .await?;
    println!("shutdown complete");
    Ok(())
}
