//! A restart without a refused connection: on SIGHUP the server starts a new copy of itself,
//! hands it the listening sockets (`ServerHandle::hand_over`), and once the new process serves,
//! stops accepting and lets its own connections finish. The same binary adopts the sockets when
//! it was started by a hand-over (`ServerBuilder::adopt_handed_over`), and binds otherwise.
//!
//! The protocol is one line per connection: `ping` is answered `pong <pid>`; `hold` is answered
//! `held <pid>`, then the next line `released <pid>` (a long request, to watch the old process
//! finish it after the hand-over). Every line it prints carries the pid of the process.
//!
//! ```text
//! cargo run --example hand_over -- --addr 127.0.0.1:7000 [--unix /tmp/ho.sock]
//! echo ping | nc 127.0.0.1 7000          # pong 4242
//! kill -HUP 4242                         # handed over to pid 4250
//! echo ping | nc 127.0.0.1 7000          # pong 4250
//! ```

mod common;

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::signal::unix::{SignalKind, signal};

/// Time the old process's connections get to finish after a hand-over (or a shutdown signal).
const DRAIN: Duration = Duration::from_secs(60);
/// Time the new process gets to start serving before the hand-over is given up.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

async fn serve_line(conn: tcpserver::Connection) {
    let pid = std::process::id();
    let mut conn = BufReader::new(conn);
    let mut line = String::new();
    if conn.read_line(&mut line).await.is_err() {
        return;
    }
    let reply = match line.trim() {
        "ping" => format!("pong {pid}\n"),
        "hold" => {
            if conn
                .get_mut()
                .write_all(format!("held {pid}\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
            line.clear();
            if conn.read_line(&mut line).await.is_err() {
                return;
            }
            format!("released {pid}\n")
        }
        _ => "?\n".to_string(),
    };
    let _ = conn.get_mut().write_all(reply.as_bytes()).await;
}

/// This program again, with the same arguments.
fn next_process() -> std::io::Result<std::process::Command> {
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command.args(std::env::args_os().skip(1));
    Ok(command)
}

fn main() -> anyhow::Result<()> {
    common::init_tracing();
    let args = common::Args::parse()?;
    let pid = std::process::id();
    let mut builder = args.builder();
    if let Some(path) = &args.unix {
        builder = builder.listen_unix(path); // also handed over, the socket file with it
    }
    let server = builder.adopt_handed_over().build()?;
    let handle = server.handle();
    let rt = tokio::runtime::Runtime::new()?;
    {
        let _in_runtime = rt.enter();
        let stop = common::signal();
        let mut hup = signal(SignalKind::hangup())?;
        let handle = handle.clone();
        rt.spawn(async move {
            tokio::select! {
                _ = stop => handle.shutdown(DRAIN),
                _ = async {
                    while hup.recv().await.is_some() {
                        let next = match next_process() {
                            Ok(c) => c,
                            Err(e) => {
                                eprintln!("pid {pid}: cannot find this program: {e}");
                                continue;
                            }
                        };
                        match tokio::time::timeout(READY_TIMEOUT, handle.hand_over(next, DRAIN)).await {
                            Ok(Ok(child)) => {
                                println!("pid {pid}: handed over to pid {}", child.id());
                                return;
                            }
                            Ok(Err(e)) => eprintln!("pid {pid}: {e}; still serving"),
                            Err(_) => eprintln!("pid {pid}: the new process was not ready in time; still serving"),
                        }
                    }
                } => {}
            }
        });
    }
    common::announce(server.local_addr());
    if args.per_core {
        server.serve_per_core(serve_line)?;
    } else {
        rt.block_on(server.serve(serve_line))?;
    }
    println!("pid {pid}: shutdown complete");
    Ok(())
}
