//! Command-line handling shared by the examples (kept tiny: no CLI crate).
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;

/// `--addr HOST:PORT` (default `127.0.0.1:5000`), `--max-accept N` (serve N connections, then
/// exit; used by the tests), `--per-core` (thread-per-core model), `--upstream HOST:PORT` (the
/// proxy's backend), `--unix PATH` (a Unix domain socket to listen on as well).
pub struct Args {
    pub addr: String,
    pub max_accept: Option<u64>,
    pub per_core: bool,
    pub upstream: Option<String>,
    pub unix: Option<String>,
}

impl Args {
    pub fn parse() -> anyhow::Result<Args> {
        Self::parse_from(std::env::args().skip(1))
    }

    pub fn parse_from(mut it: impl Iterator<Item = String>) -> anyhow::Result<Args> {
        let mut args = Args {
            addr: "127.0.0.1:5000".into(),
            max_accept: None,
            per_core: false,
            upstream: None,
            unix: None,
        };
        while let Some(a) = it.next() {
            match a.as_str() {
                "--addr" => {
                    args.addr = it
                        .next()
                        .ok_or_else(|| anyhow::anyhow!("--addr needs a value"))?
                }
                "--max-accept" => {
                    let v = it
                        .next()
                        .ok_or_else(|| anyhow::anyhow!("--max-accept needs a value"))?;
                    args.max_accept = Some(v.parse()?);
                }
                "--per-core" => args.per_core = true,
                "--upstream" => {
                    args.upstream = Some(
                        it.next()
                            .ok_or_else(|| anyhow::anyhow!("--upstream needs a value"))?,
                    )
                }
                "--unix" => {
                    args.unix = Some(
                        it.next()
                            .ok_or_else(|| anyhow::anyhow!("--unix needs a value"))?,
                    )
                }
                other => anyhow::bail!(
                    "unknown argument {other:?}; use --addr HOST:PORT, --max-accept N, --per-core, \
                     --upstream HOST:PORT, --unix PATH"
                ),
            }
        }
        Ok(args)
    }

    /// A builder on `--addr` with `--max-accept` applied.
    pub fn builder(&self) -> tcpserver::ServerBuilder {
        let b = tcpserver::Server::builder(self.addr.as_str())
            .listen_options(tcpserver::ListenOptions::new().reuse_port(true));
        match self.max_accept {
            Some(n) => b.max_accept(n),
            None => b,
        }
    }
}

/// Logs to stderr (`RUST_LOG=debug` for more).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
}

/// Prints the line scripts and tests wait for.
pub fn announce(addr: SocketAddr) {
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when this is called
/// (inside a tokio runtime), so a signal sent right after is not missed.
pub fn signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let int = signal(SignalKind::interrupt());
    let term = signal(SignalKind::terminate());
    async move {
        match (int, term) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// Sends `greeting`, then echoes the client's lines until it closes (the line services of the
/// examples).
pub async fn greet_then_echo_lines(conn: tcpserver::Connection, greeting: &str) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut conn = tokio::io::BufReader::new(conn);
    if conn.get_mut().write_all(greeting.as_bytes()).await.is_err() {
        return;
    }
    let mut line = String::new();
    while matches!(conn.read_line(&mut line).await, Ok(n) if n > 0) {
        if conn.get_mut().write_all(line.as_bytes()).await.is_err() {
            return;
        }
        line.clear();
    }
}

/// Serves one connection with hyper's HTTP/1.1 driver until it ends or the server shuts down:
/// on `shutdown_started()` hyper's `graceful_shutdown()` answers the request in flight (if
/// any) and closes, so an idle keep-alive connection does not hold the shutdown until the
/// deadline. `service` gets the requests (the hyper and axum examples).
pub async fn serve_http1<S, B>(conn: tcpserver::Connection, service: S)
where
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = hyper::Response<B>,
        >,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let server = conn.server().clone();
    let http = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(conn), service);
    tokio::pin!(http);
    let result = tokio::select! {
        r = http.as_mut() => r,
        _ = server.shutdown_started() => {
            // Finish the request in flight (if any), then close.
            http.as_mut().graceful_shutdown();
            http.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "HTTP connection ended with an error");
    }
}

/// Runs `server` with `handler` (per-core with `--per-core`, else in a multi-thread runtime)
/// until Ctrl-C / SIGTERM, then shuts down gracefully with `deadline`; prints the lines the
/// tests wait for.
pub fn serve_until_signal<H, F>(
    server: tcpserver::Server,
    per_core: bool,
    deadline: std::time::Duration,
    handler: H,
) -> anyhow::Result<()>
where
    H: Fn(tcpserver::Connection) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let handle = server.handle();
    let rt = tokio::runtime::Runtime::new()?;
    let stop = {
        let _in_runtime = rt.enter();
        signal()
    };
    rt.spawn(async move {
        stop.await;
        handle.shutdown(deadline);
    });
    announce(server.local_addr());
    if per_core {
        server.serve_per_core(handler)?;
    } else {
        rt.block_on(server.serve(handler))?;
    }
    println!("shutdown complete");
    Ok(())
}
