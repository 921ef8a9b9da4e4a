//! A local service on a Unix domain socket (and on TCP, from the same server): it greets each
//! client with what the server knows about it (for a Unix client: user, group and process id
//! from `SO_PEERCRED`), then echoes lines. The socket file gets mode 0600, replaces a stale
//! file left by a crashed run, and is removed when the server stops.
//!
//! ```text
//! cargo run --example unix_service -- --unix /tmp/echo.sock
//! nc -U /tmp/echo.sock
//! ```

mod common;

use tcpserver::{ListenOptions, PeerAddr};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_tracing();
    let args = common::Args::parse()?;
    let path = args
        .unix
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--unix PATH is required"))?;
    let server = args
        .builder()
        .listen_unix(&path)
        .listen_options(ListenOptions::new().unix_mode(0o600))
        .build()?;
    let handle = server.handle();
    let stop = common::signal();
    tokio::spawn(async move {
        stop.await;
        handle.shutdown(std::time::Duration::from_secs(10));
    });
    common::announce(server.local_addr());
    server
        .serve(|conn: tcpserver::Connection| async move {
            let who = match conn.peer() {
                PeerAddr::Unix(Some(cred)) => {
                    format!("local uid {} pid {:?}", cred.uid(), cred.pid())
                }
                other => other.to_string(),
            };
            common::greet_then_echo_lines(conn, &format!("hello {who}\n")).await;
        })
        .await?;
    println!("shutdown complete");
    Ok(())
}
