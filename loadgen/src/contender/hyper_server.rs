//! The `hyper` contender: a minimal hyper 1.x HTTP/1.1 server with the responder's options, the way
//! most Rust services are written (one multi-thread tokio runtime, `tokio::spawn` per connection).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;
use tokio_rustls::TlsAcceptor;

use super::serve::{Body, OnOff, tls_config};

/// Flags of `loadgen serve hyper`: the same names and defaults as the tcpserver responder's.
#[derive(clap::Parser, Debug, Clone)]
#[command(name = "loadgen serve hyper")]
pub(crate) struct HyperArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Response body size in bytes (default: "Hello World!\r\n").
    #[arg(long)]
    payload: Option<usize>,
    /// HTTP keep-alive.
    #[arg(long, value_enum, default_value = "on")]
    keep_alive: OnOff,
    /// Encrypt the body with AES-128-CBC on every request.
    #[arg(long)]
    aes128: bool,
    /// Sleep before answering, in milliseconds.
    #[arg(long, default_value_t = 0)]
    sleep_ms: u64,
    /// Runtime worker threads (default: available CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Accepted for command-line compatibility with the responder; hyper has one runtime model.
    #[arg(long)]
    runtime: Option<String>,
    /// Restrict the process to these CPUs, e.g. `0` or `0,1`.
    #[arg(long, value_delimiter = ',')]
    pin_cpus: Vec<usize>,
    /// Serve HTTPS.
    #[arg(long)]
    tls: bool,
    /// PEM certificate chain (default: a fresh self-signed one).
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
}

struct State {
    body: Body,
    sleep: Option<Duration>,
}

/// Runs the server until SIGTERM or SIGINT.
pub(crate) fn run(args: HyperArgs) -> anyhow::Result<()> {
    if args.aes128 && !super::aes_body::AVAILABLE {
        anyhow::bail!("--aes128 is not available in this build of the hyper contender yet");
    }
    if !args.pin_cpus.is_empty() {
        crate::machine::set_affinity(&args.pin_cpus).context("--pin-cpus")?;
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: HyperArgs) -> anyhow::Result<()> {
    let addr: SocketAddr = tokio::net::lookup_host(&args.listen)
        .await
        .with_context(|| format!("resolving --listen {}", args.listen))?
        .next()
        .with_context(|| format!("--listen {} resolves to nothing", args.listen))?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }?;
    socket.set_reuseaddr(true)?;
    socket
        .bind(addr)
        .with_context(|| format!("binding {addr}"))?;
    let listener = socket.listen(4096)?;
    let acceptor = if args.tls {
        Some(TlsAcceptor::from(tls_config(
            args.cert.as_deref(),
            args.key.as_deref(),
        )?))
    } else {
        None
    };
    let state = Arc::new(State {
        body: Body::new(args.payload, args.aes128),
        sleep: (args.sleep_ms > 0).then(|| Duration::from_millis(args.sleep_ms)),
    });
    let mut builder = http1::Builder::new();
    builder.keep_alive(args.keep_alive == OnOff::On);
    let builder = Arc::new(builder);

    super::serve::announce(listener.local_addr()?)?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and friends are temporary: back off instead of spinning.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (state, builder, acceptor) = (state.clone(), builder.clone(), acceptor.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| respond(req, state.clone()));
            let result = match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls) => builder.serve_connection(TokioIo::new(tls), service).await,
                    Err(_) => return,
                },
                None => {
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
            };
            if let Err(e) = result {
                tracing::debug!("connection: {e}");
            }
        });
    }
}

async fn respond(
    _req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if let Some(sleep) = state.sleep {
        tokio::time::sleep(sleep).await;
    }
    let mut response = Response::new(Full::new(state.body.render()));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(state.body.content_type()),
    );
    Ok(response)
}
