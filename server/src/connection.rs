//! One accepted connection: plain TCP or TLS, with its metadata, user state and server handle.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::handle::{ConnGuard, ServerHandle};
use crate::state::State;
use crate::stream::Stream;
use crate::timeout::IdleTimer;
use crate::{PeerAddr, tls};

/// The transport under a [`Connection`].
enum Io {
    Plain(Stream),
    Tls(Box<tls::TlsStream>),
}

/// Read and write idle timers, boxed: most connections never set one.
struct Timers {
    read: IdleTimer,
    write: IdleTimer,
}

/// An accepted connection, handed to the handler. It is plain TCP or TLS and implements
/// [`AsyncRead`] and [`AsyncWrite`], so any tokio-based protocol code (codecs, hyper via
/// `hyper_util::rt::TokioIo`, `tokio::io::copy`) runs over it.
///
/// It comes from a TCP or a Unix domain socket listener ([`peer`](Self::peer) tells which).
/// It carries the peer and local addresses, the accept time, typed per-connection user state
/// ([`insert_state`](Self::insert_state)), the [`ServerHandle`], and the raw [`TcpStream`] for
/// plain connections. Dropping it closes the socket and updates the server's counters; the
/// server drops it when the handler's future ends, also when it panics.
///
/// # Example
///
/// ```no_run
/// use tcpserver::Connection;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// async fn handler(mut conn: Connection) {
///     let mut buf = vec![0u8; 4096];
///     while let Ok(n) = conn.read(&mut buf).await {
///         if n == 0 || conn.write_all(&buf[..n]).await.is_err() {
///             break;
///         }
///     }
/// }
/// ```
pub struct Connection {
    io: Io,
    peer: PeerAddr,
    accepted_at: Instant,
    state: State,
    timers: Option<Box<Timers>>,
    guard: ConnGuard,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("tls", &self.is_tls())
            .field("accepted_at", &self.accepted_at)
            .field("state_entries", &self.state.len())
            .finish()
    }
}

impl Connection {
    pub(crate) fn plain(stream: Stream, peer: PeerAddr, guard: ConnGuard) -> Connection {
        Connection {
            io: Io::Plain(stream),
            peer,
            accepted_at: Instant::now(),
            state: State::default(),
            timers: None,
            guard,
        }
    }

    pub(crate) fn with_tls(
        tls: tls::TlsStream,
        peer: PeerAddr,
        accepted_at: Instant,
        guard: ConnGuard,
    ) -> Connection {
        Connection {
            io: Io::Tls(Box::new(tls)),
            peer,
            accepted_at,
            state: State::default(),
            timers: None,
            guard,
        }
    }

    /// The client's TCP address. A connection from a Unix domain socket has none: this is then
    /// the unspecified address `0.0.0.0:0`; see [`peer`](Self::peer).
    ///
    /// ```no_run
    /// # fn f(conn: tcpserver::Connection) {
    /// tracing::info!(peer = %conn.peer_addr(), "new connection");
    /// # }
    /// ```
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
            .tcp()
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The client: a TCP address, or a local process on a Unix domain socket (with its user,
    /// group and process id where the system gives them).
    ///
    /// ```no_run
    /// # fn f(conn: tcpserver::Connection) {
    /// use tcpserver::PeerAddr;
    /// if let PeerAddr::Unix(Some(cred)) = conn.peer() {
    ///     assert_eq!(cred.uid(), 1000, "only this user may connect");
    /// }
    /// # }
    /// ```
    pub fn peer(&self) -> PeerAddr {
        self.peer
    }

    /// The server-side address of this connection (`getsockname`; differs from the listen
    /// address when listening on a wildcard address). Fails for a Unix domain socket.
    ///
    /// ```no_run
    /// # fn f(conn: tcpserver::Connection) -> std::io::Result<()> {
    /// let local = conn.local_addr()?;
    /// # let _ = local; Ok(()) }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self.stream() {
            Stream::Tcp(s) => s.local_addr(),
            Stream::Unix(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a Unix domain socket has no IP address",
            )),
        }
    }

    /// When the connection was accepted (before a TLS handshake).
    ///
    /// ```no_run
    /// # fn f(conn: tcpserver::Connection) {
    /// let age = conn.accepted_at().elapsed();
    /// # let _ = age; }
    /// ```
    pub fn accepted_at(&self) -> Instant {
        self.accepted_at
    }

    /// The handle of the server that accepted this connection (counters, shutdown).
    ///
    /// ```no_run
    /// # fn f(conn: tcpserver::Connection) {
    /// if conn.server().is_shutting_down() { /* answer, then close */ }
    /// # }
    /// ```
    pub fn server(&self) -> &ServerHandle {
        &self.guard.handle
    }

    /// The raw TCP stream of a plain connection (`None` under TLS, where reading or writing it
    /// directly would corrupt the session). Use it for socket options or zero-copy calls.
    ///
    /// ```no_run
    /// # fn f(conn: tcpserver::Connection) -> std::io::Result<()> {
    /// if let Some(tcp) = conn.tcp_stream() {
    ///     tcp.set_ttl(64)?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn tcp_stream(&self) -> Option<&TcpStream> {
        match &self.io {
            Io::Plain(Stream::Tcp(s)) => Some(s),
            _ => None,
        }
    }

    /// The socket under the connection, also under TLS (crate-internal: socket info only).
    fn stream(&self) -> &Stream {
        match &self.io {
            Io::Plain(s) => s,
            Io::Tls(s) => s.get_ref().0,
        }
    }

    /// Whether the connection speaks TLS.
    ///
    /// ```no_run
    /// # fn f(conn: tcpserver::Connection) {
    /// let scheme = if conn.is_tls() { "https" } else { "http" };
    /// # let _ = scheme; }
    /// ```
    pub fn is_tls(&self) -> bool {
        matches!(self.io, Io::Tls(_))
    }

    /// The rustls session of a TLS connection: SNI name, ALPN protocol, whether the handshake
    /// resumed a session ([`rustls::CommonState::handshake_kind`]).
    ///
    /// ```no_run
    /// # fn f(conn: tcpserver::Connection) {
    /// if let Some(tls) = conn.tls_session() {
    ///     let sni = tls.server_name();
    /// #   let _ = sni;
    /// }
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_session(&self) -> Option<&rustls::ServerConnection> {
        match &self.io {
            Io::Plain(_) => None,
            Io::Tls(s) => Some(s.get_ref().1),
        }
    }

    /// Upgrades a plain connection to TLS in place (STARTTLS): runs the server side of the
    /// handshake with the server's handshake timeout, keeping state, addresses and counters.
    /// Call it after answering the protocol's upgrade command, before reading anything else
    /// (bytes already read into your own buffers are not seen by TLS). On failure the
    /// connection is closed.
    ///
    /// ```no_run
    /// # async fn f(conn: tcpserver::Connection, config: std::sync::Arc<rustls::ServerConfig>)
    /// # -> Result<(), tcpserver::Error> {
    /// // ... after replying "220 Ready to start TLS" ...
    /// let conn = conn.start_tls(config).await?;
    /// assert!(conn.is_tls());
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub async fn start_tls(
        self,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> Result<Connection, crate::Error> {
        let Connection {
            io,
            peer,
            accepted_at,
            state,
            timers,
            guard,
        } = self;
        let stream = match io {
            Io::Plain(stream) => stream,
            Io::Tls(_) => return Err(crate::Error::Config("the connection already uses TLS")),
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let timeout = guard.handle.shared.handshake_timeout;
        let tls = tls::handshake(&acceptor, stream, timeout).await?;
        Ok(Connection {
            io: Io::Tls(Box::new(tls)),
            peer,
            accepted_at,
            state,
            timers,
            guard,
        })
    }

    /// Attaches a value to the connection, one per type; returns the previous value of that
    /// type. Nothing is allocated until the first value is inserted.
    ///
    /// ```no_run
    /// # fn f(mut conn: tcpserver::Connection) {
    /// struct RequestCount(u64);
    /// conn.insert_state(RequestCount(0));
    /// if let Some(c) = conn.state_mut::<RequestCount>() {
    ///     c.0 += 1;
    /// }
    /// assert_eq!(conn.state::<RequestCount>().map(|c| c.0), Some(1));
    /// # }
    /// ```
    pub fn insert_state<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.state.insert(value)
    }

    /// The value of type `T` attached to the connection, if any.
    ///
    /// ```no_run
    /// # fn f(conn: tcpserver::Connection) {
    /// let user: Option<&String> = conn.state::<String>();
    /// # let _ = user; }
    /// ```
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.state.get()
    }

    /// The value of type `T` attached to the connection, mutably.
    ///
    /// ```no_run
    /// # fn f(mut conn: tcpserver::Connection) {
    /// if let Some(n) = conn.state_mut::<u64>() { *n += 1; }
    /// # }
    /// ```
    pub fn state_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.state.get_mut()
    }

    /// Detaches and returns the value of type `T`.
    ///
    /// ```no_run
    /// # fn f(mut conn: tcpserver::Connection) {
    /// let old: Option<u64> = conn.remove_state::<u64>();
    /// # let _ = old; }
    /// ```
    pub fn remove_state<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        self.state.remove()
    }

    fn timers(&mut self) -> &mut Timers {
        self.timers.get_or_insert_with(|| {
            Box::new(Timers {
                read: IdleTimer::new(None),
                write: IdleTimer::new(None),
            })
        })
    }

    /// Sets an idle timeout for reads: a read that waits longer than `timeout` without any byte
    /// arriving fails with [`io::ErrorKind::TimedOut`]. `None` (the default) waits forever.
    /// Must be called inside the tokio runtime (it creates a timer once; no allocation per read).
    ///
    /// ```no_run
    /// # fn f(mut conn: tcpserver::Connection) {
    /// conn.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    /// # }
    /// ```
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        if timeout.is_some() || self.timers.is_some() {
            self.timers().read.set(timeout);
        }
    }

    /// Sets an idle timeout for writes: a write that cannot make progress for longer than
    /// `timeout` (the peer does not read) fails with [`io::ErrorKind::TimedOut`].
    ///
    /// ```no_run
    /// # fn f(mut conn: tcpserver::Connection) {
    /// conn.set_write_timeout(Some(std::time::Duration::from_secs(30)));
    /// # }
    /// ```
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) {
        if timeout.is_some() || self.timers.is_some() {
            self.timers().write.set(timeout);
        }
    }

    /// The read idle timeout, if set.
    ///
    /// ```no_run
    /// # fn f(conn: tcpserver::Connection) {
    /// assert_eq!(conn.read_timeout(), None);
    /// # }
    /// ```
    pub fn read_timeout(&self) -> Option<Duration> {
        self.timers.as_ref().and_then(|t| t.read.limit())
    }

    /// The write idle timeout, if set.
    ///
    /// ```no_run
    /// # fn f(conn: tcpserver::Connection) {
    /// assert_eq!(conn.write_timeout(), None);
    /// # }
    /// ```
    pub fn write_timeout(&self) -> Option<Duration> {
        self.timers.as_ref().and_then(|t| t.write.limit())
    }

    /// Sends `len` bytes of `file` starting at `offset`, with `sendfile(2)` on a plain
    /// connection (no copy through user space); under TLS, or where the kernel refuses, it reads
    /// and writes through a buffer. Returns the bytes sent (less than `len` if the file ends).
    ///
    /// ```no_run
    /// # async fn f(mut conn: tcpserver::Connection) -> std::io::Result<()> {
    /// let file = std::fs::File::open("index.html")?;
    /// let len = file.metadata()?.len();
    /// conn.send_file(&file, 0, len).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_file(
        &mut self,
        file: &std::fs::File,
        offset: u64,
        len: u64,
    ) -> io::Result<u64> {
        match &self.io {
            Io::Plain(Stream::Tcp(tcp)) => {
                crate::zero_copy::send_file(tcp, file, offset, len).await
            }
            _ => crate::zero_copy::send_file_buffered(self, file, offset, len).await,
        }
    }

    /// Copies everything this connection receives into another accepted connection until end
    /// of stream, with `splice(2)` through a pipe when both are plain TCP (no copy through user
    /// space), otherwise through a buffer. Returns the bytes copied. `to` is not shut down at
    /// the end. To proxy to an upstream server you dial, use [`proxy`](Self::proxy).
    ///
    /// ```no_run
    /// # async fn f(mut from: tcpserver::Connection, mut to: tcpserver::Connection)
    /// # -> std::io::Result<()> {
    /// // A relay between two clients the server paired up (e.g. through a channel):
    /// let copied = from.splice_to(&mut to).await?;
    /// # let _ = copied; Ok(()) }
    /// ```
    pub async fn splice_to(&mut self, to: &mut Connection) -> io::Result<u64> {
        match (&self.io, &to.io) {
            (Io::Plain(Stream::Tcp(a)), Io::Plain(Stream::Tcp(b))) => {
                crate::zero_copy::splice(a, b).await
            }
            _ => tokio::io::copy(self, to).await,
        }
    }

    /// Proxies between this connection and a dialed `upstream` in both directions at once,
    /// until both directions reached end of stream: with `splice(2)` (zero-copy) when this
    /// connection is plain TCP, through buffers under TLS or on a Unix domain socket. When one
    /// side stops sending, the other's write half is shut down (half-close passed through).
    /// Returns the bytes copied `(client to upstream, upstream to client)`.
    ///
    /// ```no_run
    /// # async fn f(mut conn: tcpserver::Connection) -> std::io::Result<()> {
    /// let mut upstream = tokio::net::TcpStream::connect("10.0.0.2:5432").await?;
    /// let (up, down) = conn.proxy(&mut upstream).await?;
    /// tracing::info!(up, down, "proxied");
    /// # Ok(()) }
    /// ```
    pub async fn proxy(&mut self, upstream: &mut TcpStream) -> io::Result<(u64, u64)> {
        match &self.io {
            Io::Plain(Stream::Tcp(client)) => {
                crate::zero_copy::splice_bidirectional(client, upstream).await
            }
            _ => tokio::io::copy_bidirectional(self, upstream).await,
        }
    }

    /// Echoes everything received back to the peer until end of stream (the Go README's echo
    /// server), with `splice(2)` on a plain connection. Returns the bytes echoed.
    ///
    /// ```no_run
    /// # async fn f(mut conn: tcpserver::Connection) -> std::io::Result<()> {
    /// conn.echo().await?;
    /// # Ok(()) }
    /// ```
    pub async fn echo(&mut self) -> io::Result<u64> {
        match &self.io {
            Io::Plain(Stream::Tcp(tcp)) => crate::zero_copy::splice(tcp, tcp).await,
            _ => crate::zero_copy::echo_buffered(self).await,
        }
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let res = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        };
        match &mut this.timers {
            None => res,
            Some(t) => t.read.check(cx, res),
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        };
        match &mut this.timers {
            None => res,
            Some(t) => t.write.check(cx, res),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
        };
        match &mut this.timers {
            None => res,
            Some(t) => t.write.check(cx, res),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let res = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        };
        match &mut this.timers {
            None => res,
            Some(t) => t.write.check(cx, res),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}

impl std::os::fd::AsFd for Connection {
    /// The socket under the connection, also under TLS: for socket options
    /// (`socket2::SockRef::from(&conn)`), never for reading or writing past TLS.
    ///
    /// ```no_run
    /// # fn f(conn: tcpserver::Connection) -> std::io::Result<()> {
    /// let keepalive = socket2::SockRef::from(&conn).keepalive()?;
    /// # let _ = keepalive; Ok(()) }
    /// ```
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.stream().as_fd()
    }
}
