//! [`ServerBuilder`]: the address, listen options, runtime-model settings, limits and TLS.

use std::fmt::Debug;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::handle::{ServerHandle, Shared};
use crate::listener::Bound;
use crate::server::{Config, OnConnect};
use crate::{Connection, CpuSet, Error, ListenOptions, Server};

/// Default number of accept loops of the shared runtime model (as in the Go library).
pub const DEFAULT_LOOPS: usize = 8;
/// Default time allowed for a TLS handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Configures and binds a [`Server`]; made by [`Server::builder`].
///
/// # Example
///
/// ```
/// use tcpserver::{ListenOptions, Server};
///
/// let server = Server::builder("127.0.0.1:0")
///     .listen_options(ListenOptions::new().reuse_port(true).backlog(4096))
///     .loops(4)
///     .max_connections(10_000)
///     .build()?;
/// assert_ne!(server.local_addr().port(), 0);
/// # Ok::<(), tcpserver::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct ServerBuilder {
    listens: Vec<Listen>,
    options: ListenOptions,
    loops: usize,
    threads: Option<usize>,
    pin_cpus: Option<CpuSet>,
    max_connections: Option<usize>,
    max_accept: Option<u64>,
    tls: Option<Arc<crate::tls::Reloadable>>,
    handshake_timeout: Duration,
    on_connect: Option<OnConnect>,
    adopt_handed_over: bool,
}

impl Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("listens", &self.listens)
            .field("options", &self.options)
            .field("loops", &self.loops)
            .field("threads", &self.threads)
            .field("pin_cpus", &self.pin_cpus)
            .field("max_connections", &self.max_connections)
            .field("max_accept", &self.max_accept)
            .field("tls", &self.tls.is_some())
            .field("handshake_timeout", &self.handshake_timeout)
            .field("on_connect", &self.on_connect.is_some())
            .field("adopt_handed_over", &self.adopt_handed_over)
            .finish()
    }
}

/// One listener to bind in [`ServerBuilder::build`].
#[derive(Debug)]
enum Listen {
    Tcp(Result<SocketAddr, Error>),
    #[cfg(feature = "proxy-protocol")]
    TcpProxied(Result<SocketAddr, Error>),
    Unix(PathBuf),
    #[cfg(feature = "proxy-protocol")]
    UnixProxied(PathBuf),
    Inherited(Result<OwnedFd, Error>),
}

/// Resolves `addr` to its first address.
fn resolve<A: ToSocketAddrs + Debug>(addr: A) -> Result<SocketAddr, Error> {
    addr.to_socket_addrs()
        .and_then(|mut it| {
            it.next().ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the name resolved to no address",
                )
            })
        })
        .map_err(|source| Error::Address {
            addr: format!("{addr:?}").trim_matches('"').to_string(),
            source,
        })
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    /// Starts configuring a server on `addr`: `"127.0.0.1:8080"`, `"[::1]:0"`,
    /// `"localhost:8080"` (resolved now; the first address is used), a [`SocketAddr`], or
    /// `(IpAddr, u16)`. A bad address makes [`build`](ServerBuilder::build) fail with
    /// [`Error::Address`].
    ///
    /// ```
    /// let server = tcpserver::Server::builder("[::1]:0").build();
    /// # let _ = server;
    /// ```
    pub fn builder<A: ToSocketAddrs + Debug>(addr: A) -> ServerBuilder {
        ServerBuilder::new().listen(addr)
    }
}

impl ServerBuilder {
    /// A builder without any listener yet: add them with [`listen`](Self::listen) (TCP) and
    /// [`listen_unix`](Self::listen_unix). One server serves them all with one handler, one
    /// set of counters and one shutdown.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("tcpserver-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let server = tcpserver::ServerBuilder::new()
    ///     .listen("127.0.0.1:0")
    ///     .listen("[::1]:0")
    ///     .listen_unix(dir.join("app.sock"))
    ///     .build()?;
    /// assert_eq!(server.listen_addrs().len(), 3);
    /// # drop(server); std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> ServerBuilder {
        ServerBuilder {
            listens: Vec::new(),
            options: ListenOptions::new(),
            loops: DEFAULT_LOOPS,
            threads: None,
            pin_cpus: None,
            max_connections: None,
            max_accept: None,
            tls: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            on_connect: None,
            adopt_handed_over: false,
        }
    }

    /// Adds a TCP listener on `addr` (as for [`Server::builder`]).
    ///
    /// ```
    /// let server = tcpserver::Server::builder("127.0.0.1:0").listen("[::1]:0").build()?;
    /// assert_eq!(server.listen_addrs().len(), 2);
    /// # Ok::<(), tcpserver::Error>(())
    /// ```
    pub fn listen<A: ToSocketAddrs + Debug>(mut self, addr: A) -> Self {
        self.listens.push(Listen::Tcp(resolve(addr)));
        self
    }

    /// Adds a TCP listener on `addr` for clients behind a load balancer that speaks the PROXY
    /// protocol (v1 or v2; HAProxy `send-proxy`, AWS NLB, nginx `proxy_protocol on`): each
    /// connection's header is read first (within the
    /// [handshake timeout](Self::handshake_timeout), before TLS), its source becomes the
    /// connection's [`peer`](Connection::peer), and the header is attached as state
    /// ([`ProxyHeader`](crate::proxy_protocol::ProxyHeader)). A connection without a valid
    /// header is closed. Feature `proxy-protocol`.
    ///
    /// ```
    /// let server = tcpserver::Server::builder("127.0.0.1:0") // direct clients
    ///     .listen_proxied("127.0.0.1:0") // clients through the load balancer
    ///     .build()?;
    /// # let _ = server;
    /// # Ok::<(), tcpserver::Error>(())
    /// ```
    #[cfg(feature = "proxy-protocol")]
    pub fn listen_proxied<A: ToSocketAddrs + Debug>(mut self, addr: A) -> Self {
        self.listens.push(Listen::TcpProxied(resolve(addr)));
        self
    }

    /// Adds a Unix domain socket listener at `path`. A socket file left by a process that is
    /// gone is replaced; if another process still listens there, or the path is not a socket,
    /// [`build`](Self::build) fails with [`Error::BindUnix`]. The file's mode can be set with
    /// [`ListenOptions::unix_mode`]; the file is removed when the server stops listening.
    ///
    /// ```no_run
    /// let server = tcpserver::ServerBuilder::new()
    ///     .listen_unix("/run/app/app.sock")
    ///     .listen_options(tcpserver::ListenOptions::new().unix_mode(0o660))
    ///     .build()?;
    /// # let _ = server;
    /// # Ok::<(), tcpserver::Error>(())
    /// ```
    pub fn listen_unix(mut self, path: impl Into<PathBuf>) -> Self {
        self.listens.push(Listen::Unix(path.into()));
        self
    }

    /// Adds a Unix domain socket listener at `path` (as [`listen_unix`](Self::listen_unix))
    /// for a load balancer on the same host that speaks the PROXY protocol to it (HAProxy
    /// `server app unix@/run/app.sock send-proxy-v2`, nginx `proxy_protocol on`): the header
    /// is read first, as on [`listen_proxied`](Self::listen_proxied); the client's real address
    /// becomes the connection's [`peer`](Connection::peer), the balancer's credentials are in
    /// [`ProxyHeader::proxy`](crate::proxy_protocol::ProxyHeader::proxy). Feature
    /// `proxy-protocol`.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("tcpserver-doc-pp-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let server = tcpserver::ServerBuilder::new()
    ///     .listen_unix_proxied(dir.join("app.sock"))
    ///     .build()?;
    /// # drop(server); std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "proxy-protocol")]
    pub fn listen_unix_proxied(mut self, path: impl Into<PathBuf>) -> Self {
        self.listens.push(Listen::UnixProxied(path.into()));
        self
    }

    /// Adopts a socket that is already bound and listening: a [`std::net::TcpListener`], a
    /// [`std::os::unix::net::UnixListener`], or a raw descriptor inherited from a parent
    /// process (as an [`OwnedFd`]). Bind-time [`ListenOptions`] (backlog, `SO_REUSEPORT`, ...)
    /// are the creator's; per-connection ones (keepalive, `TCP_USER_TIMEOUT`) apply. The
    /// per-core workers share the socket. [`build`](Self::build) fails with
    /// [`Error::Inherited`] for anything but a listening stream socket.
    ///
    /// ```
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = std_listener.local_addr()?;
    /// let server = tcpserver::ServerBuilder::new().listen_inherited(std_listener).build()?;
    /// assert_eq!(server.local_addr(), addr);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listen_inherited(mut self, listener: impl Into<OwnedFd>) -> Self {
        self.listens.push(Listen::Inherited(Ok(listener.into())));
        self
    }

    /// Adopts every socket passed by systemd socket activation (see
    /// [`systemd_listeners`](crate::systemd_listeners); to pick sockets by name, use that
    /// with [`listen_inherited`](Self::listen_inherited)). Adds nothing when the process was
    /// not socket-activated.
    ///
    /// ```no_run
    /// // web.socket: ListenStream=8080; web.service: ExecStart=/usr/bin/web
    /// let server = tcpserver::ServerBuilder::new().listen_systemd().build()?;
    /// # let _ = server;
    /// # Ok::<(), tcpserver::Error>(())
    /// ```
    pub fn listen_systemd(mut self) -> Self {
        match crate::systemd::systemd_listeners() {
            Ok(fds) => {
                for (_, fd) in fds {
                    self.listens.push(Listen::Inherited(Ok(fd)));
                }
            }
            Err(e) => self.listens.push(Listen::Inherited(Err(e))),
        }
        self
    }

    /// If this process was started by [`ServerHandle::hand_over`] of a running server, serve
    /// the listening sockets it handed over instead of binding the listeners given to this
    /// builder (all of them, with their PROXY protocol setting; the bind-time options are the
    /// old process's). Once this server serves, the old process is told and stops accepting.
    /// A process started otherwise binds as usual, so the same program works for the first
    /// start and for every restart. Reads the environment variable `TCPSERVER_HANDOVER`
    /// (ignored unless set by this process's parent); a malformed one fails
    /// [`build`](Self::build) with [`Error::Inherited`].
    ///
    /// ```
    /// let server = tcpserver::ServerBuilder::new()
    ///     .listen("127.0.0.1:0")
    ///     .adopt_handed_over()
    ///     .build()?;
    /// # let _ = server;
    /// # Ok::<(), tcpserver::Error>(())
    /// ```
    pub fn adopt_handed_over(mut self) -> Self {
        self.adopt_handed_over = true;
        self
    }

    /// Socket options for the listener(s) (default: [`ListenOptions::new`]).
    ///
    /// ```
    /// # use tcpserver::{ListenOptions, Server};
    /// let b = Server::builder("127.0.0.1:0").listen_options(ListenOptions::new().reuse_port(true));
    /// # let _ = b;
    /// ```
    pub fn listen_options(mut self, options: ListenOptions) -> Self {
        self.options = options;
        self
    }

    /// Number of accept loops on the one listener in the shared model ([`Server::serve`]);
    /// default [`DEFAULT_LOOPS`].
    ///
    /// ```
    /// let b = tcpserver::Server::builder("127.0.0.1:0").loops(2);
    /// # let _ = b;
    /// ```
    pub fn loops(mut self, loops: usize) -> Self {
        self.loops = loops;
        self
    }

    /// Number of worker threads in the per-core model ([`Server::serve_per_core`]); default:
    /// the available cores.
    ///
    /// ```
    /// let b = tcpserver::Server::builder("127.0.0.1:0").threads(2);
    /// # let _ = b;
    /// ```
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Pins the per-core model's worker `i` to the `i % n`-th of the `n` CPUs of `cpus` (Linux;
    /// elsewhere a warning is logged and the threads run unpinned). On Linux,
    /// [`build`](Self::build) fails with [`Error::Cpus`] if this process may not run on one of
    /// them (the kernel would leave that CPU out without a word).
    ///
    /// ```
    /// use tcpserver::{CpuSet, Server};
    ///
    /// let b = Server::builder("127.0.0.1:0").threads(2).pin_cpus("0-1".parse()?);
    /// # let _ = b;
    /// # #[cfg(target_os = "linux")]
    /// assert!(matches!(
    ///     Server::builder("127.0.0.1:0").pin_cpus(CpuSet::new([1023])?).build(),
    ///     Err(tcpserver::Error::Cpus(_))
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pin_cpus(mut self, cpus: CpuSet) -> Self {
        self.pin_cpus = Some(cpus);
        self
    }

    /// At most `max` connections open at once; at the limit the server stops accepting (new
    /// clients wait in the kernel's queue) until one closes.
    ///
    /// ```
    /// let b = tcpserver::Server::builder("127.0.0.1:0").max_connections(10_000);
    /// # let _ = b;
    /// ```
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// Accepts exactly `n` connections, then shuts down gracefully (waiting for their handlers).
    ///
    /// ```
    /// let b = tcpserver::Server::builder("127.0.0.1:0").max_accept(1);
    /// # let _ = b;
    /// ```
    pub fn max_accept(mut self, n: u64) -> Self {
        self.max_accept = Some(n);
        self
    }

    /// Serves TLS on every connection with this rustls configuration (see
    /// [`tls::server_config`](crate::tls::server_config) for one with session resumption).
    ///
    /// ```no_run
    /// # fn f(config: std::sync::Arc<rustls::ServerConfig>) {
    /// let b = tcpserver::Server::builder("127.0.0.1:0").tls(config);
    /// # let _ = b; }
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(Arc::new(crate::tls::Reloadable::new(config)));
        self
    }

    /// Time allowed for a TLS handshake, also for `Connection::start_tls`; default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`]. A connection that takes longer is closed.
    ///
    /// ```
    /// let b = tcpserver::Server::builder("127.0.0.1:0")
    ///     .handshake_timeout(std::time::Duration::from_secs(3));
    /// # let _ = b;
    /// ```
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// A hook run on every connection (after the TLS handshake) before the handler sees it:
    /// attach per-connection state, set timeouts or socket options, log. To wrap connections in
    /// your own type instead, do it at the start of the handler.
    ///
    /// ```
    /// use std::time::Duration;
    /// struct Session { id: u64 }
    /// let next = std::sync::atomic::AtomicU64::new(0);
    /// let b = tcpserver::Server::builder("127.0.0.1:0").on_connect(move |conn| {
    ///     let id = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ///     conn.insert_state(Session { id });
    ///     conn.set_read_timeout(Some(Duration::from_secs(60)));
    /// });
    /// # let _ = b;
    /// ```
    pub fn on_connect<F>(mut self, hook: F) -> Self
    where
        F: Fn(&mut Connection) + Send + Sync + 'static,
    {
        self.on_connect = Some(Arc::new(hook));
        self
    }

    /// Binds the listeners now (so [`Server::local_addr`] knows the port) and returns the
    /// server.
    ///
    /// # Errors
    ///
    /// [`Error::Address`] for a bad address, [`Error::Bind`] / [`Error::BindUnix`] when binding
    /// or listening fails, [`Error::SocketOption`] / [`Error::Unsupported`] for a listen
    /// option, [`Error::Config`] for no listener or zero loops, threads or connections.
    ///
    /// ```
    /// let server = tcpserver::Server::builder("127.0.0.1:0").build()?;
    /// # let _ = server;
    /// # Ok::<(), tcpserver::Error>(())
    /// ```
    pub fn build(self) -> Result<Server, Error> {
        let handed_over = match self.adopt_handed_over {
            true => crate::hand_over::receive()?,
            false => None,
        };
        if self.listens.is_empty() && handed_over.is_none() {
            return Err(Error::Config("the server has no listener"));
        }
        if self.loops == 0 {
            return Err(Error::Config("loops must be at least 1"));
        }
        if self.threads == Some(0) {
            return Err(Error::Config("threads must be at least 1"));
        }
        if self.max_connections == Some(0) {
            return Err(Error::Config("max_connections must be at least 1"));
        }
        #[cfg(target_os = "linux")]
        if let Some(cpus) = &self.pin_cpus {
            cpus.check_allowed()?;
        }
        self.options.check()?;
        let mut listeners = Vec::with_capacity(self.listens.len());
        let mut ready = None;
        let listens = match handed_over {
            Some(received) => {
                listeners = received.sockets;
                ready = Some(received.ready);
                Vec::new()
            }
            None => self.listens,
        };
        for listen in listens {
            let bound = match listen {
                Listen::Tcp(addr) => Bound::tcp(addr?, &self.options)?,
                #[cfg(feature = "proxy-protocol")]
                Listen::TcpProxied(addr) => {
                    let mut bound = Bound::tcp(addr?, &self.options)?;
                    bound.proxy_protocol = true;
                    bound
                }
                Listen::Unix(path) => Bound::unix(&path, &self.options)?,
                #[cfg(feature = "proxy-protocol")]
                Listen::UnixProxied(path) => {
                    let mut bound = Bound::unix(&path, &self.options)?;
                    bound.proxy_protocol = true;
                    bound
                }
                Listen::Inherited(fd) => Bound::inherited(fd?)?,
            };
            tracing::debug!(addr = %bound.addr, "listening");
            listeners.push(bound);
        }
        let shared = Shared::new(
            listeners.iter().map(|l| l.addr.clone()).collect(),
            self.max_connections,
            self.max_accept,
            self.loops * listeners.len(),
            self.handshake_timeout,
            self.tls,
        );
        for bound in &listeners {
            shared.keep_for_hand_over(bound);
        }
        *shared
            .handed_over_ready
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = ready;
        Ok(Server {
            listeners,
            handle: ServerHandle {
                shared: Arc::new(shared),
            },
            config: Config {
                options: self.options,
                loops: self.loops,
                threads: self.threads,
                pin_cpus: self.pin_cpus,
                on_connect: self.on_connect,
            },
        })
    }
}
