//! Starting, running and stopping the responder on a [`Server`](crate::Server).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

use crate::body::BodyEncoder;
use crate::connection::{Settings, Transport, serve_connection};
use crate::reply::Reply;
use crate::{KeepAlive, ResponderArgs, ResponderError, RuntimeModel, payload, tls_config};
use tcpserver::http::Limits;
use tcpserver::{Connection, ListenOptions, Server, ServerHandle};

/// How long a graceful shutdown (SIGINT/SIGTERM) lets open connections finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running responder: bound, serving on its own thread.
///
/// ```no_run
/// use clap::Parser;
/// use tcpserver_responder::{Responder, ResponderArgs};
///
/// let args = ResponderArgs::parse_from(["responder", "--listen", "127.0.0.1:0", "--threads", "1"]);
/// let responder = Responder::start(args)?;
/// println!("serving on {}", responder.local_addr());
/// responder.handle().shutdown(std::time::Duration::from_secs(1));
/// responder.wait()?;
/// # Ok::<(), tcpserver_responder::ResponderError>(())
/// ```
#[derive(Debug)]
pub struct Responder {
    local_addr: SocketAddr,
    handle: ServerHandle,
    certificate: Option<CertificateDer<'static>>,
    thread: JoinHandle<Result<(), ResponderError>>,
}

impl Responder {
    /// Binds the listener(s) described by `args` and starts serving on a new thread.
    ///
    /// Errors in binding or in the TLS setup are returned here; errors while serving are
    /// returned by [`wait`](Self::wait).
    pub fn start(args: ResponderArgs) -> Result<Responder, ResponderError> {
        let threads = args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if threads == 0 {
            return Err(ResponderError::Options(
                "--threads must be at least 1".into(),
            ));
        }
        let settings = Arc::new(Settings {
            reply: Reply::new(BodyEncoder::new(payload(args.payload), args.aes128)),
            keep_alive: args.keep_alive == KeepAlive::On,
            sleep: (args.sleep_ms > 0).then(|| Duration::from_millis(args.sleep_ms)),
            header_timeout: Duration::from_millis(args.header_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(args.idle_timeout_ms.max(1)),
            limits: Limits::default(),
        });
        let per_core = args.runtime == RuntimeModel::PerCore;
        // TCP_DEFER_ACCEPT: a connection is accepted once its request has arrived, so the first
        // read succeeds instead of returning EAGAIN and waiting for epoll (keep-alive off: one
        // syscall and one wakeup less per request).
        let options = ListenOptions::new()
            .reuse_port(per_core)
            .nodelay(true)
            .backlog(4096)
            .defer_accept(cfg!(target_os = "linux"));
        let mut builder = Server::builder(args.listen.as_str()).listen_options(options);
        builder = if per_core {
            builder.threads(threads)
        } else {
            builder.loops(threads)
        };
        if let Some(cpus) = &args.pin_cpus {
            // The kernel would silently leave out a CPU this process may not use.
            cpus.check_allowed()?;
            builder = builder.pin_cpus(cpus.clone());
        }
        let mut certificate = None;
        if args.tls {
            let (config, leaf) = tls_config(&args)?;
            certificate = Some(leaf);
            builder = builder.tls(config);
        }
        let server = builder.build()?;
        let local_addr = server.local_addr();
        let handle = server.handle();
        let cpus = args.pin_cpus;
        let thread = std::thread::Builder::new()
            .name("responder".into())
            .spawn(move || {
                if per_core {
                    server.serve_per_core(move |conn: Connection| {
                        let settings = settings.clone();
                        async move { serve_connection(conn, &settings).await }
                    })?;
                } else {
                    // The shared model's threads may run on any of the listed CPUs: threads
                    // inherit the affinity of the thread that starts them, so restricting this
                    // one before the runtime exists restricts all of the runtime's.
                    if let Some(cpus) = &cpus {
                        cpus.pin_current_thread()?;
                    }
                    let runtime = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(threads)
                        .enable_all()
                        .build()?;
                    runtime.block_on(server.serve(move |conn: Connection| {
                        let settings = settings.clone();
                        async move { serve_connection(conn, &settings).await }
                    }))?;
                }
                Ok(())
            })?;
        Ok(Responder {
            local_addr,
            handle,
            certificate,
            thread,
        })
    }

    /// The bound address (with the real port when `--listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's handle: counters, [`shutdown`](ServerHandle::shutdown),
    /// [`halt`](ServerHandle::halt).
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// The TLS certificate presented to clients (with `--tls`), e.g. to trust it in a client.
    pub fn certificate(&self) -> Option<&CertificateDer<'static>> {
        self.certificate.as_ref()
    }

    /// Blocks until serving has ended (after a shutdown or halt, or a fatal error).
    pub fn wait(self) -> Result<(), ResponderError> {
        self.thread.join().unwrap_or_else(|_| {
            Err(ResponderError::Options(
                "the serving thread panicked".into(),
            ))
        })
    }
}

impl Transport for Connection {
    fn is_tls(&self) -> bool {
        self.is_tls()
    }

    fn shutting_down(&self) -> bool {
        self.server().is_shutting_down()
    }
}

/// Runs the responder until SIGINT or SIGTERM, then shuts down gracefully (open connections get
/// a few seconds to finish).
///
/// After binding it prints exactly one line to stdout, `listening on <addr>`, and flushes:
/// runners wait for that line.
///
/// ```no_run
/// use clap::Parser;
/// let args = tcpserver_responder::ResponderArgs::parse();
/// tcpserver_responder::run(args)?;
/// # Ok::<(), tcpserver_responder::ResponderError>(())
/// ```
pub fn run(args: ResponderArgs) -> Result<(), ResponderError> {
    use tokio::signal::unix::{SignalKind, signal};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Install the handlers before announcing, so that a signal sent right after the line is
    // seen is handled gracefully.
    let (mut interrupt, mut terminate) = runtime.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))
    })?;
    let responder = Responder::start(args)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", responder.local_addr())?;
    stdout.flush()?;
    drop(stdout);
    let handle = responder.handle();
    runtime.block_on(async {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
            () = handle.stopped() => {}
        }
    });
    handle.shutdown(SHUTDOWN_GRACE);
    responder.wait()
}
