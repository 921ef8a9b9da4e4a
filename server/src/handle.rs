//! The shared server state and the handle that controls it: counters, graceful shutdown, halt.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::ListenAddr;

/// A handle to a running (or not yet running) server: counters, the bound address, and graceful
/// shutdown. Cheap to clone, `Send + Sync`, usable from any thread or task, also from inside a
/// connection handler (see [`Connection::server`](crate::Connection::server)).
///
/// # Example
///
/// ```no_run
/// # async fn run() -> Result<(), tcpserver::Error> {
/// use std::time::Duration;
/// use tcpserver::Server;
///
/// let server = Server::builder("127.0.0.1:0").build()?;
/// let handle = server.handle();
/// tokio::spawn(async move {
///     tokio::signal::ctrl_c().await.ok();
///     // Stop accepting, give handlers 5 s to finish, then close what is left.
///     handle.shutdown(Duration::from_secs(5));
/// });
/// server.serve(|_conn| async {}).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerHandle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.shared.local_addr)
            .field("active", &self.active_connections())
            .field("accepted", &self.accepted_connections())
            .finish()
    }
}

/// State shared by the accept loops, the connection guards and every [`ServerHandle`].
pub(crate) struct Shared {
    /// The first TCP listener's address (unspecified when there is none).
    pub(crate) local_addr: SocketAddr,
    pub(crate) listen_addrs: Vec<ListenAddr>,
    /// Time allowed for a TLS handshake (also for `start_tls`).
    pub(crate) handshake_timeout: Duration,
    active: AtomicUsize,
    accepted: AtomicU64,
    /// Tickets left for `max_accept` (`u64::MAX`: unlimited).
    tickets: AtomicU64,
    max_accept: Option<u64>,
    pub(crate) limit: Option<Semaphore>,
    /// Stop accepting (graceful shutdown, halt, `max_accept` reached or a fatal accept error).
    pub(crate) stop: CancellationToken,
    stopping: AtomicBool,
    halted: AtomicBool,
    done: AtomicBool,
    /// Graceful deadline; `None` waits forever. A tokio instant, so that tests can run the
    /// deadline on tokio's paused clock.
    deadline: Mutex<Option<Instant>>,
    /// Woken when the last connection closes while stopping, on halt, on a new deadline, at the end.
    events: Notify,
    pub(crate) registry: Registry,
    /// The TLS configuration, if the listeners speak TLS.
    pub(crate) tls: Option<Arc<crate::tls::Reloadable>>,
    /// Copies of every listening socket, for a hand-over to a new process; emptied when the
    /// server stops accepting or any accept loop ends (so that no listening socket stays open
    /// without an accept loop).
    pub(crate) hand_over: Mutex<Vec<crate::listener::HandOverSocket>>,
    /// Set in a process started by a hand-over: tells the previous process that we serve.
    pub(crate) handed_over_ready: Mutex<Option<std::os::fd::OwnedFd>>,
    /// A hand-over is under way (one at a time).
    handing_over: AtomicBool,
}

impl Shared {
    pub(crate) fn new(
        listen_addrs: Vec<ListenAddr>,
        max_connections: Option<usize>,
        max_accept: Option<u64>,
        shards: usize,
        handshake_timeout: Duration,
        tls: Option<Arc<crate::tls::Reloadable>>,
    ) -> Shared {
        let local_addr = listen_addrs
            .iter()
            .find_map(ListenAddr::tcp)
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
        Shared {
            local_addr,
            listen_addrs,
            handshake_timeout,
            active: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            tickets: AtomicU64::new(max_accept.unwrap_or(u64::MAX)),
            max_accept,
            limit: max_connections.map(Semaphore::new),
            stop: CancellationToken::new(),
            stopping: AtomicBool::new(false),
            halted: AtomicBool::new(false),
            done: AtomicBool::new(false),
            deadline: Mutex::new(None),
            events: Notify::new(),
            registry: Registry::new(shards),
            tls,
            hand_over: Mutex::new(Vec::new()),
            handed_over_ready: Mutex::new(None),
            handing_over: AtomicBool::new(false),
        }
    }

    /// Keeps a copy of a listening socket for [`ServerHandle::hand_over`].
    pub(crate) fn keep_for_hand_over(&self, bound: &crate::listener::Bound) {
        match bound.hand_over_copy() {
            Ok(copy) => lock(&self.hand_over).push(copy),
            Err(e) => {
                tracing::warn!(addr = %bound.addr, error = %e, "no copy of the listener for a hand-over")
            }
        }
    }

    /// In a process started by a hand-over: the server serves, the previous process may stop.
    pub(crate) fn serving(&self) {
        if let Some(ready) = lock(&self.handed_over_ready).take() {
            crate::hand_over::notify_ready(ready);
        }
    }

    /// Takes the `max_accept` ticket of a connection just accepted; `false` when none is left
    /// (the connection must then be closed).
    pub(crate) fn take_ticket(&self) -> bool {
        if self.max_accept.is_none() {
            return true;
        }
        self.tickets
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(1))
            .is_ok()
    }

    /// `max_accept` connections were accepted: no accept loop may accept more.
    pub(crate) fn max_accept_reached(&self) -> bool {
        self.max_accept.is_some() && self.tickets.load(Ordering::Acquire) == 0
    }

    /// Counts a newly accepted connection; starts the shutdown when `max_accept` is reached
    /// (every counted connection holds a ticket, so `accepted` never passes `max_accept`).
    pub(crate) fn on_accepted(&self) {
        let accepted = self.accepted.fetch_add(1, Ordering::AcqRel) + 1;
        self.active.fetch_add(1, Ordering::AcqRel);
        if let Some(max) = self.max_accept
            && accepted >= max
        {
            tracing::debug!(max, "max_accept reached, shutting down");
            self.begin_stop();
        }
    }

    fn on_closed(&self) {
        if self.active.fetch_sub(1, Ordering::AcqRel) == 1 && self.stopping.load(Ordering::Acquire)
        {
            self.events.notify_waiters();
        }
    }

    /// No hand-over any more: closes the copies of the listening sockets.
    pub(crate) fn drop_hand_over_copies(&self) {
        lock(&self.hand_over).clear();
    }

    /// Stops accepting (idempotent).
    pub(crate) fn begin_stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.drop_hand_over_copies();
        self.stop.cancel();
        self.events.notify_waiters();
    }

    pub(crate) fn is_halted(&self) -> bool {
        self.halted.load(Ordering::Acquire)
    }

    pub(crate) fn halt(&self) {
        self.halted.store(true, Ordering::Release);
        self.begin_stop();
    }

    /// Waits until every connection is closed (returns `false`) or until the server is halted or
    /// the graceful deadline passes (returns `true`: close what is left).
    pub(crate) async fn wait_idle(&self) -> bool {
        loop {
            let notified = self.events.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_halted() {
                return true;
            }
            if self.active.load(Ordering::Acquire) == 0 {
                return false;
            }
            let deadline = *self.deadline.lock().unwrap_or_else(|e| e.into_inner());
            match deadline {
                Some(d) if d <= Instant::now() => {
                    tracing::info!(
                        active = self.active.load(Ordering::Relaxed),
                        "shutdown deadline passed, closing the remaining connections"
                    );
                    self.halt();
                    return true;
                }
                Some(d) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(d) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Resolves when the server is halted or the graceful deadline has passed.
    pub(crate) async fn halted_or_past_deadline(&self) {
        loop {
            let notified = self.events.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_halted() {
                return;
            }
            let deadline = *self.deadline.lock().unwrap_or_else(|e| e.into_inner());
            match deadline {
                Some(d) if d <= Instant::now() => return,
                Some(d) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(d) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Waits until no connection is left (after a halt, while aborted tasks drop).
    pub(crate) async fn wait_empty(&self) {
        loop {
            let notified = self.events.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.active.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Marks the server as finished (the serve call is about to return).
    pub(crate) fn finish(&self) {
        self.begin_stop();
        self.done.store(true, Ordering::Release);
        self.events.notify_waiters();
    }
}

impl ServerHandle {
    /// Starts a graceful shutdown and returns at once: stop accepting (connections already
    /// queued in the kernel are still accepted and served), let running handlers finish for at
    /// most `deadline`, then close the connections that are left. `Duration::ZERO` waits forever.
    /// Calling it again can only shorten the deadline. `serve` returns when all is done; await
    /// [`stopped`](Self::stopped) to wait for that from elsewhere.
    ///
    /// ```no_run
    /// # fn f(handle: tcpserver::ServerHandle) {
    /// handle.shutdown(std::time::Duration::from_secs(10));
    /// # }
    /// ```
    pub fn shutdown(&self, deadline: Duration) {
        let new = if deadline.is_zero() {
            None
        } else {
            Some(Instant::now() + deadline)
        };
        {
            let mut cur = self
                .shared
                .deadline
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            *cur = match (*cur, new) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (Some(a), None) => Some(a),
                (None, b) => b,
            };
        }
        tracing::info!(addr = %self.shared.local_addr, ?deadline, "graceful shutdown requested");
        self.shared.begin_stop();
    }

    /// Stops at once: no more accepts, every open connection is closed (its handler future is
    /// dropped at its next await point).
    ///
    /// ```no_run
    /// # fn f(handle: tcpserver::ServerHandle) {
    /// handle.halt();
    /// # }
    /// ```
    pub fn halt(&self) {
        tracing::info!(addr = %self.shared.local_addr, "halt requested");
        self.shared.halt();
    }

    /// Waits until the server has finished (its `serve` call returns).
    ///
    /// ```no_run
    /// # async fn f(handle: tcpserver::ServerHandle) {
    /// handle.shutdown(std::time::Duration::ZERO);
    /// handle.stopped().await;
    /// # }
    /// ```
    pub async fn stopped(&self) {
        loop {
            let notified = self.shared.events.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shared.done.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Resolves when a shutdown (graceful or halt) starts: for long-lived tasks that should wind
    /// down, e.g. a keep-alive connection waiting for its next request. Each poll takes a lock
    /// shared by all waiters, so on a hot per-connection path prefer checking
    /// [`is_shutting_down`](Self::is_shutting_down) between requests.
    ///
    /// ```no_run
    /// # async fn f(conn: &mut tcpserver::Connection) {
    /// use tokio::io::AsyncReadExt;
    /// let server = conn.server().clone();
    /// let mut buf = [0u8; 1024];
    /// tokio::select! {
    ///     _ = server.shutdown_started() => { /* say goodbye and close */ }
    ///     n = conn.read(&mut buf) => { let _ = n; }
    /// }
    /// # }
    /// ```
    pub async fn shutdown_started(&self) {
        self.shared.stop.cancelled().await
    }

    /// Replaces the TLS configuration of a running server (a renewed certificate, new ALPN
    /// protocols): handshakes that start from now on use `config`, connections already
    /// established keep theirs. Fails with [`Error::Config`](crate::Error::Config) for a server
    /// built without [`tls`](crate::ServerBuilder::tls).
    ///
    /// ```no_run
    /// # fn f(handle: tcpserver::ServerHandle, chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// #      key: rustls::pki_types::PrivateKeyDer<'static>) -> Result<(), tcpserver::Error> {
    /// // e.g. on SIGHUP, after the certificate files were renewed:
    /// let config = tcpserver::tls::server_config(chain, key)?;
    /// handle.reload_tls(std::sync::Arc::new(config))?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn reload_tls(&self, config: Arc<rustls::ServerConfig>) -> Result<(), crate::Error> {
        match &self.shared.tls {
            Some(tls) => {
                tls.replace(config);
                tracing::info!(addr = %self.shared.local_addr, "TLS configuration reloaded");
                Ok(())
            }
            None => Err(crate::Error::Config("the server was built without TLS")),
        }
    }

    /// Hands the listening sockets over to a new process, for a restart or an upgrade that
    /// refuses no connection (Linux): starts `command` (typically this program again:
    /// `Command::new(std::env::current_exe()?)` with the same arguments) with duplicates of
    /// every listening socket, and waits until the new process serves them (its server was
    /// built with [`adopt_handed_over`](crate::ServerBuilder::adopt_handed_over) and has
    /// started serving). Then this server shuts down gracefully, as
    /// [`shutdown(drain)`](Self::shutdown) does: it stops accepting, the connections it has
    /// finish (for at most `drain`), and its `serve` call returns. Both processes share the
    /// kernel's sockets meanwhile, so no client is refused; Unix socket files stay in place
    /// (the new process removes them when it stops).
    ///
    /// The new program must be this process's child (started directly, or by a wrapper that
    /// `exec`s it): it checks that the sockets were meant for it by its parent's pid. After a
    /// hand-over from the per-core model with `reuse_port`, each worker's socket is one
    /// listener of the new server (so none of the `SO_REUSEPORT` group is closed).
    ///
    /// Returns the new process. If it cannot be started, or exits before it is ready, this
    /// server goes on serving and [`Error::HandOver`](crate::Error::HandOver) is returned.
    /// Dropping the future (e.g. at a timeout of yours) kills the new process if it is not
    /// ready yet. Elsewhere than Linux: [`Error::Unsupported`](crate::Error::Unsupported).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tcpserver::ServerBuilder;
    /// use tokio::signal::unix::{SignalKind, signal};
    ///
    /// #[tokio::main]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     // The first start binds; a start by `hand_over` adopts the old process's sockets.
    ///     let server = ServerBuilder::new().listen("[::]:8080").adopt_handed_over().build()?;
    ///     let handle = server.handle();
    ///     let mut hup = signal(SignalKind::hangup())?;
    ///     tokio::spawn(async move {
    ///         while hup.recv().await.is_some() {
    ///             let mut next = std::process::Command::new(std::env::current_exe().unwrap());
    ///             next.args(std::env::args_os().skip(1));
    ///             match tokio::time::timeout(Duration::from_secs(30), handle.hand_over(next, Duration::from_secs(60))).await {
    ///                 Ok(Ok(child)) => {
    ///                     tracing::info!(pid = child.id(), "handed over");
    ///                     break;
    ///                 }
    ///                 Ok(Err(e)) => tracing::error!(error = %e, "still serving"),
    ///                 Err(_) => tracing::error!("the new process was not ready in time; still serving"),
    ///             }
    ///         }
    ///     });
    ///     server.serve(|mut conn| async move { let _ = conn.echo().await; }).await?;
    ///     Ok(()) // the connections of this process are done; the new one serves
    /// }
    /// ```
    pub async fn hand_over(
        &self,
        command: std::process::Command,
        drain: Duration,
    ) -> Result<std::process::Child, crate::Error> {
        let shared = &*self.shared;
        if shared.handing_over.swap(true, Ordering::AcqRel) {
            return Err(crate::Error::HandOver(std::io::Error::other(
                "a hand-over is already under way",
            )));
        }
        struct Done<'a>(&'a AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _done = Done(&shared.handing_over);
        let sockets = {
            let list = lock(&shared.hand_over);
            if self.is_shutting_down() || list.is_empty() {
                return Err(crate::Error::HandOver(std::io::Error::other(
                    "the server is shutting down (or no longer accepts)",
                )));
            }
            list.iter()
                .map(|s| s.duplicate())
                .collect::<std::io::Result<Vec<_>>>()
                .map_err(crate::Error::HandOver)?
        };
        let child = crate::hand_over::spawn_and_wait(&sockets, command).await?;
        for s in &sockets {
            s.give_file_away();
        }
        tracing::info!(pid = child.id(), ?drain, "listeners handed over; draining");
        self.shutdown(drain);
        Ok(child)
    }

    /// Whether a shutdown (graceful or halt) has started.
    ///
    /// ```no_run
    /// # fn f(handle: tcpserver::ServerHandle) {
    /// if handle.is_shutting_down() { /* finish the current request, then close */ }
    /// # }
    /// ```
    pub fn is_shutting_down(&self) -> bool {
        self.shared.stopping.load(Ordering::Acquire)
    }

    /// Connections currently open (accepted and not yet closed).
    ///
    /// ```no_run
    /// # fn f(handle: tcpserver::ServerHandle) {
    /// println!("{} open", handle.active_connections());
    /// # }
    /// ```
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::Acquire)
    }

    /// Connections accepted since the server was built.
    ///
    /// ```no_run
    /// # fn f(handle: tcpserver::ServerHandle) {
    /// println!("{} accepted", handle.accepted_connections());
    /// # }
    /// ```
    pub fn accepted_connections(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// The address of the server's first TCP listener (with the real port when bound to port
    /// 0); `0.0.0.0:0` for a server with Unix domain listeners only. See
    /// [`listen_addrs`](Self::listen_addrs) for all of them.
    ///
    /// ```no_run
    /// # fn f(handle: tcpserver::ServerHandle) {
    /// println!("listening on {}", handle.local_addr());
    /// # }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Every address the server listens on, in the order the builder was given them.
    ///
    /// ```no_run
    /// # fn f(handle: tcpserver::ServerHandle) {
    /// for addr in handle.listen_addrs() {
    ///     println!("listening on {addr}");
    /// }
    /// # }
    /// ```
    pub fn listen_addrs(&self) -> &[ListenAddr] {
        &self.shared.listen_addrs
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Owned by each connection from accept to close: keeps the counters, the connection limit and
/// the halt registry right, also when the handler panics (the task's future is dropped).
pub(crate) struct ConnGuard {
    pub(crate) handle: ServerHandle,
    permit: bool,
    slot: Option<(u32, u32)>,
}

impl ConnGuard {
    /// Called right after a successful accept; `permit` tells whether a connection-limit permit
    /// was taken (and forgotten) for it.
    pub(crate) fn new(handle: ServerHandle, permit: bool) -> ConnGuard {
        handle.shared.on_accepted();
        ConnGuard {
            handle,
            permit,
            slot: None,
        }
    }

    pub(crate) fn set_slot(&mut self, shard: u32, key: u32) {
        self.slot = Some((shard, key));
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let shared = &self.handle.shared;
        if let Some((shard, key)) = self.slot {
            shared.registry.remove(shard, key);
        }
        // Count the connection closed before its permit is returned, so that a connection
        // accepted with that permit never sees the count above the cap.
        shared.on_closed();
        if self.permit
            && let Some(limit) = &shared.limit
        {
            limit.add_permits(1);
        }
    }
}

/// Abort handles of the connection tasks of the shared runtime model, so that a halt (or a
/// passed deadline) can close them. Sharded by accept loop: a shard's lock is taken twice per
/// connection (spawn, close) and is almost never contended.
pub(crate) struct Registry {
    shards: Box<[Mutex<Slab>]>,
}

#[derive(Default)]
struct Slab {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

enum Slot {
    Vacant,
    Reserved,
    Task(AbortHandle),
}

impl Registry {
    fn new(shards: usize) -> Registry {
        Registry {
            shards: (0..shards.max(1)).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard(&self, shard: u32) -> std::sync::MutexGuard<'_, Slab> {
        self.shards[shard as usize % self.shards.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a slot for a task about to be spawned. Only the shard's accept loop reserves,
    /// so a slot freed by its task is not reused before [`fill`](Self::fill) ran.
    pub(crate) fn reserve(&self, shard: u32) -> u32 {
        let mut s = self.shard(shard);
        if let Some(key) = s.free.pop() {
            s.slots[key as usize] = Slot::Reserved;
            key
        } else {
            s.slots.push(Slot::Reserved);
            (s.slots.len() - 1) as u32
        }
    }

    /// Stores the abort handle, unless the task already finished and freed the slot.
    pub(crate) fn fill(&self, shard: u32, key: u32, task: AbortHandle) {
        let mut s = self.shard(shard);
        if let Some(slot @ Slot::Reserved) = s.slots.get_mut(key as usize) {
            *slot = Slot::Task(task);
        }
    }

    fn remove(&self, shard: u32, key: u32) {
        let mut s = self.shard(shard);
        if let Some(slot) = s.slots.get_mut(key as usize)
            && !matches!(slot, Slot::Vacant)
        {
            *slot = Slot::Vacant;
            s.free.push(key);
        }
    }

    /// Aborts every registered task (their futures are dropped, closing the connections).
    pub(crate) fn abort_all(&self) {
        for shard in self.shards.iter() {
            let handles: Vec<AbortHandle> = {
                let s = shard.lock().unwrap_or_else(|e| e.into_inner());
                s.slots
                    .iter()
                    .filter_map(|slot| match slot {
                        Slot::Task(h) => Some(h.clone()),
                        _ => None,
                    })
                    .collect()
            };
            for h in handles {
                h.abort();
            }
        }
    }
}
