//! The `hyper` contender: a minimal hyper 1.x server with the responder's options, the way most
//! Rust services are written (one multi-thread tokio runtime, `tokio::spawn` per connection). It
//! speaks HTTP/1.1 and HTTP/2, told apart per connection (ALPN `h2` over TLS, the HTTP/2
//! preface for h2c with prior knowledge).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpSocket;
use tokio_rustls::TlsAcceptor;

use tcpserver_responder::{KeepAlive, ResponderArgs, aes128_body, payload, tls_config};

struct State {
    plain: Bytes,
    aes128: bool,
    sleep: Option<Duration>,
}

/// Runs the server with the responder's options until SIGTERM or SIGINT. `--runtime` is
/// ignored (hyper has one model); `--pin-cpus` restricts the whole process.
pub(crate) fn run(args: ResponderArgs) -> anyhow::Result<()> {
    if let Some(cpus) = &args.pin_cpus {
        cpus.check_allowed().context("--pin-cpus")?;
        cpus.pin_current_thread().context("--pin-cpus")?;
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
    // The accept loop runs on a worker too: `--threads N` means N threads doing all the work
    // (block_on's own thread would otherwise be an extra one).
    runtime.block_on(async { tokio::spawn(serve(args)).await? })
}

async fn serve(args: ResponderArgs) -> anyhow::Result<()> {
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
        let mut config = (*tls_config(&args)?.0).clone();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Some(TlsAcceptor::from(Arc::new(config)))
    } else {
        None
    };
    let state = Arc::new(State {
        plain: Bytes::from(payload(args.payload)),
        aes128: args.aes128,
        sleep: (args.sleep_ms > 0).then(|| Duration::from_millis(args.sleep_ms)),
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(args.keep_alive == KeepAlive::On);
    let builder = Arc::new(builder);

    // Handlers first, so that a SIGTERM right after the announcement is handled.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    super::serve::announce(listener.local_addr()?)?;
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
    let body = if state.aes128 {
        Bytes::from(aes128_body(&state.plain))
    } else {
        state.plain.clone()
    };
    let mut response = Response::new(Full::new(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}
