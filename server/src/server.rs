//! [`Server`] and its two runtime models: `serve` (shared multi-thread runtime, K accept loops
//! on one listener) and `serve_per_core` (N threads, each a current-thread runtime with its own
//! listener).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::accept_loop::accept_loop;
use crate::handle::{ConnGuard, ServerHandle, Shared};
use crate::listener::Bound;
use crate::stream::Stream;
use crate::{Connection, Error, ListenAddr, ListenOptions, PeerAddr, sys, tls};

/// The connection hook set with [`ServerBuilder::on_connect`](crate::ServerBuilder::on_connect).
pub(crate) type OnConnect = Arc<dyn Fn(&mut Connection) + Send + Sync>;

/// Settings the builder hands to the serve functions.
pub(crate) struct Config {
    pub(crate) options: ListenOptions,
    pub(crate) loops: usize,
    pub(crate) threads: Option<usize>,
    pub(crate) pin_cpus: Option<crate::CpuSet>,
    pub(crate) on_connect: Option<OnConnect>,
}

/// A bound TCP server, ready to serve. Made with [`Server::builder`].
///
/// # Example: the echo server of the Go library's README
///
/// ```no_run
/// use tcpserver::Server;
///
/// #[tokio::main]
/// async fn main() -> Result<(), tcpserver::Error> {
///     let server = Server::builder("127.0.0.1:5000").build()?;
///     server
///         .serve(|mut conn| async move {
///             let _ = conn.echo().await; // splice(2) on Linux
///         })
///         .await
/// }
/// ```
pub struct Server {
    pub(crate) listeners: Vec<Bound>,
    pub(crate) handle: ServerHandle,
    pub(crate) config: Config,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listen_addrs", &self.listen_addrs())
            .field("options", &self.config.options)
            .field("loops", &self.config.loops)
            .field("threads", &self.config.threads)
            .field("tls", &self.handle.shared.tls.is_some())
            .finish()
    }
}

/// What every connection task needs besides the handler: the hook and whether to speak TLS.
struct Service {
    on_connect: Option<OnConnect>,
    tls: bool,
}

impl Service {
    /// A plain connection: the handler's future, made right away in the accept loop. The hook
    /// and the handler's synchronous part run there, so a panic in them is caught (and the
    /// connection closed) instead of stopping the accept loop.
    fn plain<F>(
        &self,
        handler: impl FnOnce(Connection) -> F,
        stream: Stream,
        peer: PeerAddr,
        guard: ConnGuard,
    ) -> Option<F> {
        let conn = Connection::plain(stream, peer, guard);
        let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let mut conn = conn;
            if let Some(hook) = &self.on_connect {
                hook(&mut conn);
            }
            handler(conn)
        }));
        match made {
            Ok(fut) => Some(fut),
            Err(_) => {
                tracing::error!(%peer, "connection hook or handler panicked; connection closed");
                None
            }
        }
    }
}

/// A connection that needs work before the handler sees it, done in its own task: the PROXY
/// protocol header (on a proxied listener), then the TLS handshake (with timeout). A failure
/// only closes this connection.
async fn setup_task<F>(
    svc: Arc<Service>,
    handler: impl FnOnce(Connection) -> F,
    stream: Stream,
    peer: PeerAddr,
    guard: ConnGuard,
    proxied: bool,
) where
    F: Future<Output = ()>,
{
    let accepted_at = Instant::now();
    let timeout = guard.handle.shared.handshake_timeout;
    #[cfg(feature = "proxy-protocol")]
    let (mut stream, mut peer, mut header) = (stream, peer, None);
    #[cfg(feature = "proxy-protocol")]
    if proxied {
        match crate::proxy_protocol::accept(&mut stream, timeout).await {
            Ok(h) => {
                if let Some(source) = h.source {
                    peer = PeerAddr::Tcp(source);
                }
                header = Some(h);
            }
            Err(e) => return tracing::debug!(%peer, error = %e, "PROXY protocol header refused"),
        }
    }
    #[cfg(not(feature = "proxy-protocol"))]
    let _ = proxied;
    let mut conn = match guard.handle.shared.tls.as_ref().map(|t| t.acceptor()) {
        Some(acceptor) => match tls::handshake(&acceptor, stream, timeout).await {
            Ok(tls) => Connection::with_tls(tls, peer, accepted_at, guard),
            Err(e) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        },
        None => Connection::plain(stream, peer, guard),
    };
    #[cfg(feature = "proxy-protocol")]
    if let Some(h) = header {
        conn.insert_state(h);
    }
    if let Some(hook) = &svc.on_connect {
        hook(&mut conn);
    }
    handler(conn).await;
}

/// Halts the server if the `serve` future is dropped before it finished.
struct HaltOnDrop<'a>(Option<&'a Shared>);

impl Drop for HaltOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(shared) = self.0 {
            shared.halt();
            shared.registry.abort_all();
            shared.finish();
        }
    }
}

impl Server {
    /// Splits the server for a serve function; the hook and TLS move into the [`Service`].
    fn into_parts(self) -> (Vec<Bound>, ServerHandle, Config, Arc<Service>) {
        let Server {
            listeners,
            handle,
            mut config,
        } = self;
        let svc = Arc::new(Service {
            on_connect: config.on_connect.take(),
            tls: handle.shared.tls.is_some(),
        });
        (listeners, handle, config, svc)
    }

    /// The address of the first TCP listener (with the real port when bound to port 0);
    /// `0.0.0.0:0` for a server with Unix domain listeners only.
    ///
    /// ```
    /// let server = tcpserver::Server::builder("127.0.0.1:0").build()?;
    /// assert_ne!(server.local_addr().port(), 0);
    /// # Ok::<(), tcpserver::Error>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.shared.local_addr
    }

    /// Every address the server listens on, in the order given to the builder.
    ///
    /// ```
    /// let server = tcpserver::Server::builder("127.0.0.1:0").listen("127.0.0.1:0").build()?;
    /// let ports: Vec<u16> = server.listen_addrs().iter().filter_map(|a| a.tcp()).map(|a| a.port()).collect();
    /// assert_eq!(ports.len(), 2);
    /// # Ok::<(), tcpserver::Error>(())
    /// ```
    pub fn listen_addrs(&self) -> &[ListenAddr] {
        self.handle.listen_addrs()
    }

    /// A handle for counters and shutdown, usable from any thread, before and while serving.
    ///
    /// ```
    /// let server = tcpserver::Server::builder("127.0.0.1:0").build()?;
    /// let handle = server.handle();
    /// assert_eq!(handle.active_connections(), 0);
    /// # Ok::<(), tcpserver::Error>(())
    /// ```
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Serves in the current multi-thread tokio runtime (the *shared* model): `loops` accept
    /// loops on the one listener, each connection in its own spawned task running
    /// `handler(conn)`. The connection is closed when that future ends or panics; a panic is
    /// logged by tokio and does not affect other connections.
    ///
    /// Returns after a shutdown ([`ServerHandle::shutdown`], [`ServerHandle::halt`],
    /// `max_accept`) once every connection is closed, or with [`Error::Accept`] if the listener
    /// fails for good (once the open connections have finished, as after a graceful shutdown
    /// without deadline). Dropping the returned future halts the server.
    ///
    /// Must be called inside a tokio runtime with I/O and time enabled.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tcpserver::Error> {
    /// use tokio::io::AsyncWriteExt;
    /// let server = tcpserver::Server::builder("127.0.0.1:0").build()?;
    /// server
    ///     .serve(|mut conn| async move {
    ///         let _ = conn.write_all(b"hello\n").await;
    ///     })
    ///     .await
    /// # }
    /// ```
    pub async fn serve<H, F>(self, handler: H) -> Result<(), Error>
    where
        H: Fn(Connection) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let (listeners, handle, config, svc) = self.into_parts();
        let shared = Arc::clone(&handle.shared);
        // From here on, returning or being dropped early marks the server as finished.
        let mut guard = HaltOnDrop(Some(&shared));
        let handler = Arc::new(handler);
        let options = Arc::new(config.options);

        let mut loops = Vec::with_capacity(config.loops * listeners.len());
        for (li, bound) in listeners.into_iter().enumerate() {
            let addr = bound.addr.clone();
            let listener = Arc::new(bound.into_listener()?);
            for i in 0..config.loops {
                let (listener, svc, handle) = (listener.clone(), svc.clone(), handle.clone());
                let (handler, options) = (handler.clone(), options.clone());
                let stop = shared.stop.child_token();
                let shard = (li * config.loops + i) as u32;
                let span = tracing::debug_span!("accept_loop", %addr, loop_index = i);
                loops.push(tokio::spawn(
                    async move {
                        let registry = &handle.shared.registry;
                        accept_loop(
                            &listener,
                            &handle,
                            &stop,
                            &options,
                            |stream, peer, mut conn| {
                                let key = registry.reserve(shard);
                                conn.set_slot(shard, key);
                                let proxied = listener.proxy_protocol;
                                let task = if svc.tls || proxied {
                                    let h = handler.clone();
                                    tokio::spawn(setup_task(
                                        svc.clone(),
                                        move |c| h(c),
                                        stream,
                                        peer,
                                        conn,
                                        proxied,
                                    ))
                                } else {
                                    match svc.plain(&*handler, stream, peer, conn) {
                                        Some(fut) => tokio::spawn(fut),
                                        None => return,
                                    }
                                };
                                registry.fill(shard, key, task.abort_handle());
                            },
                        )
                        .await
                    }
                    .instrument(span),
                ));
            }
        }
        shared.serving();
        let mut result = Ok(());
        for l in loops {
            let r = match l.await {
                Ok(r) => r,
                Err(_) => Err(Error::WorkerPanicked),
            };
            if result.is_ok() {
                result = r;
            }
        }
        shared.begin_stop();
        let span = tracing::info_span!("shutdown", addr = %shared.local_addr);
        async {
            if shared.wait_idle().await {
                shared.registry.abort_all();
                shared.wait_empty().await;
            }
            tracing::debug!("all connections closed");
        }
        .instrument(span)
        .await;
        guard.0 = None;
        shared.finish();
        result
    }

    /// Serves in the *per-core* model and blocks until done: `threads` worker threads, each
    /// with its own current-thread tokio runtime and its own listener on the same address
    /// (`SO_REUSEPORT`, when set in the [`ListenOptions`]; otherwise the workers share the one
    /// listening socket). Handler futures run with `spawn_local` and need not be `Send`.
    /// Workers may be pinned to CPUs ([`pin_cpus`](crate::ServerBuilder::pin_cpus)).
    ///
    /// On shutdown each worker drains the connections already queued on its listener before
    /// closing it, so none are reset. Returns like [`serve`](Self::serve); must not be called
    /// from inside an async context that would be blocked by it.
    ///
    /// ```no_run
    /// # fn f() -> Result<(), tcpserver::Error> {
    /// use std::rc::Rc;
    /// use tcpserver::{ListenOptions, Server};
    /// use tokio::io::AsyncWriteExt;
    ///
    /// let server = Server::builder("127.0.0.1:0")
    ///     .listen_options(ListenOptions::new().reuse_port(true))
    ///     .threads(2)
    ///     .build()?;
    /// server.serve_per_core(|mut conn| async move {
    ///     let not_send = Rc::new(()); // fine: the future stays on its thread
    ///     let _ = conn.write_all(b"hello\n").await;
    ///     drop(not_send);
    /// })
    /// # }
    /// ```
    pub fn serve_per_core<H, F>(self, handler: H) -> Result<(), Error>
    where
        H: Fn(Connection) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + 'static,
    {
        self.serve_per_core_with(|_| (), move |conn, ()| handler(conn))
    }

    /// Like [`serve_per_core`](Self::serve_per_core), with per-worker state: `init(i)` runs
    /// once on worker thread `i`, and each connection of that worker gets a clone of its result
    /// (an `Rc` clone is cheap). The state need not be `Send`: a cache, a connection pool, a
    /// buffer arena per core, without locks or `thread_local!`.
    ///
    /// ```no_run
    /// # fn f() -> Result<(), tcpserver::Error> {
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use tokio::io::AsyncWriteExt;
    ///
    /// let server = tcpserver::Server::builder("127.0.0.1:0").threads(2).build()?;
    /// server.serve_per_core_with(
    ///     |_worker| Rc::new(RefCell::new(0u64)),
    ///     |mut conn, served: Rc<RefCell<u64>>| async move {
    ///         *served.borrow_mut() += 1;
    ///         let n = *served.borrow();
    ///         let _ = conn.write_all(format!("connection {n} of this worker\n").as_bytes()).await;
    ///     },
    /// )
    /// # }
    /// ```
    pub fn serve_per_core_with<I, S, H, F>(self, init: I, handler: H) -> Result<(), Error>
    where
        I: Fn(usize) -> S + Send + Sync + 'static,
        S: Clone + 'static,
        H: Fn(Connection, S) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + 'static,
    {
        let (listeners, handle, config, svc) = self.into_parts();
        let shared = Arc::clone(&handle.shared);
        let threads = config
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        let per_worker = (|| {
            let mut sets = Vec::with_capacity(threads);
            for _ in 1..threads {
                let set = listeners
                    .iter()
                    .map(|l| {
                        let copy = l.for_worker(&config.options)?;
                        if copy.rebound {
                            // A socket of its own (SO_REUSEPORT): handed over too.
                            shared.keep_for_hand_over(&copy);
                        }
                        Ok(copy)
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                sets.push(set);
            }
            sets.insert(0, listeners);
            Ok::<_, Error>(sets)
        })();
        let per_worker = match per_worker {
            Ok(l) => l,
            Err(e) => {
                shared.finish();
                return Err(e);
            }
        };
        let app = Arc::new((init, handler, config.options));

        let mut workers = Vec::with_capacity(threads);
        let mut result = Ok(());
        for (i, listeners) in per_worker.into_iter().enumerate() {
            let cpu = config
                .pin_cpus
                .as_ref()
                .map(|c| c.cpus()[i % c.cpus().len()]);
            let (svc, handle, app) = (svc.clone(), handle.clone(), app.clone());
            let stop = shared.stop.child_token();
            let spawned = std::thread::Builder::new()
                .name(format!("tcpserver-{i}"))
                .spawn(move || worker(i, listeners, cpu, svc, handle, stop, app));
            match spawned {
                Ok(w) => workers.push(w),
                Err(e) => {
                    shared.halt();
                    result = Err(Error::Runtime(e));
                    break;
                }
            }
        }
        if result.is_ok() {
            shared.serving();
        }
        for w in workers {
            let r = match w.join() {
                Ok(r) => r,
                Err(_) => Err(Error::WorkerPanicked),
            };
            if result.is_ok() {
                result = r;
            }
        }
        shared.finish();
        result
    }
}

/// One worker of the per-core model: its runtime, its state, one accept loop per listener.
fn worker<I, S, H, F>(
    index: usize,
    listeners: Vec<Bound>,
    cpu: Option<usize>,
    svc: Arc<Service>,
    handle: ServerHandle,
    stop: CancellationToken,
    app: Arc<(I, H, ListenOptions)>,
) -> Result<(), Error>
where
    I: Fn(usize) -> S + Send + Sync + 'static,
    S: Clone + 'static,
    H: Fn(Connection, S) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + 'static,
{
    let span = tracing::debug_span!("worker", addr = %handle.shared.local_addr, index, ?cpu);
    let _entered = span.enter();
    if let Some(cpu) = cpu
        && let Err(e) = sys::pin_current_thread(cpu)
    {
        tracing::warn!(cpu, error = %e, "cannot pin worker thread");
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build_local(tokio::runtime::LocalOptions::default())
    {
        Ok(rt) => rt,
        Err(e) => {
            handle.shared.halt();
            return Err(Error::Runtime(e));
        }
    };
    let shared = &*handle.shared;
    let result = rt.block_on(async {
        let listeners = match listeners
            .into_iter()
            .map(Bound::into_listener)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(l) => l,
            Err(e) => {
                shared.halt();
                return Err(Error::Io(e));
            }
        };
        let state = (app.0)(index);
        let loops = listeners.iter().map(|listener| {
            let (app, svc, state) = (&app, &svc, &state);
            accept_loop(
                listener,
                &handle,
                &stop,
                &app.2,
                move |stream, peer, conn| {
                    let proxied = listener.proxy_protocol;
                    if svc.tls || proxied {
                        let (app, state) = (app.clone(), state.clone());
                        let handler = move |c| (app.1)(c, state);
                        tokio::task::spawn_local(setup_task(
                            svc.clone(),
                            handler,
                            stream,
                            peer,
                            conn,
                            proxied,
                        ));
                    } else {
                        let handler = |c| (app.1)(c, state.clone());
                        if let Some(fut) = svc.plain(handler, stream, peer, conn) {
                            tokio::task::spawn_local(fut);
                        }
                    }
                },
            )
        });
        let results = join_all(loops).await;
        // Closing the listeners now refuses new clients instead of queueing them (the loops
        // end together: on shutdown, once `max_accept` connections were accepted, or on a
        // fatal error).
        drop(listeners);
        // `true`: halted or past the deadline; dropping the runtime closes what is left.
        shared.wait_idle().await;
        results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
    });
    drop(rt);
    result
}

/// Polls the accept loops of one worker together on its thread until all are done.
async fn join_all<Fut: Future>(futs: impl Iterator<Item = Fut>) -> Vec<Fut::Output> {
    let mut futs: Vec<_> = futs.map(|f| Some(Box::pin(f))).collect();
    let mut out: Vec<Option<Fut::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, res) in futs.iter_mut().zip(out.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(r) => {
                        *res = Some(r);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

#[cfg(unix)]
impl std::os::fd::AsFd for Server {
    /// The first listening socket bound by [`build`](crate::ServerBuilder::build) (the first
    /// one of the per-core model), e.g. to read socket options back.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// let server = tcpserver::Server::builder("127.0.0.1:0").build()?;
    /// let sock = socket2::SockRef::from(&server);
    /// assert!(sock.tcp_nodelay()?);
    /// # let _ = server.as_fd();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.listeners[0].as_fd()
    }
}
