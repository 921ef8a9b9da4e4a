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

const DEADLINE: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_tracing();
    let args = common::Args::parse()?;
    let server = args.builder().build()?;
    let handle = server.handle();
    let first = common::signal();
    common::announce(server.local_addr());

    tokio::spawn(async move {
        first.await;
        eprintln!("shutting down: no new connections, {DEADLINE:?} for the open ones");
        handle.shutdown(DEADLINE);
        common::signal().await;
        eprintln!("second signal: closing everything now");
        handle.halt();
    });

    server
        .serve(|conn: tcpserver::Connection| async move {
            common::greet_then_echo_lines(conn, "hello\n").await;
        })
        .await?;
    println!("shutdown complete");
    Ok(())
}
