//! Listen-socket tuning: what the Go library calls `ListenConfig`.

use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};

use crate::{Error, sys};

/// Options applied to the listening socket before it starts listening.
///
/// The defaults are those of a typical server: `SO_REUSEADDR` on, `TCP_NODELAY` on (accepted
/// sockets inherit it from the listener on Linux, so it costs nothing per connection), a backlog
/// of 1024, no `SO_REUSEPORT`, no TCP Fast Open, no `TCP_DEFER_ACCEPT`, and the system's default
/// for `IPV6_V6ONLY`.
///
/// `SO_REUSEPORT` is needed by [`Server::serve_per_core`](crate::Server::serve_per_core) to give
/// each worker its own listener; without it the workers share one listening socket.
///
/// # Example
///
/// ```
/// use tcpserver::ListenOptions;
///
/// let opts = ListenOptions::new().reuse_port(true).nodelay(true).backlog(4096);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenOptions {
    pub(crate) reuse_port: bool,
    pub(crate) reuse_address: bool,
    pub(crate) nodelay: bool,
    pub(crate) backlog: u32,
    pub(crate) fast_open: Option<u32>,
    pub(crate) defer_accept: bool,
    pub(crate) only_v6: Option<bool>,
    pub(crate) keepalive: Option<Keepalive>,
    pub(crate) user_timeout: Option<Duration>,
    pub(crate) unix_mode: Option<u32>,
}

/// TCP keepalive settings; `None` keeps the system's default (`net.ipv4.tcp_keepalive_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Keepalive {
    idle: Option<Duration>,
    interval: Option<Duration>,
    retries: Option<u32>,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ListenOptions {
    /// The default options (see the type's documentation).
    ///
    /// ```
    /// let opts = tcpserver::ListenOptions::new();
    /// # let _ = opts;
    /// ```
    pub fn new() -> Self {
        ListenOptions {
            reuse_port: false,
            reuse_address: true,
            nodelay: true,
            backlog: 1024,
            fast_open: None,
            defer_accept: false,
            only_v6: None,
            keepalive: None,
            user_timeout: None,
            unix_mode: None,
        }
    }

    /// Sets `SO_REUSEPORT`: several sockets may listen on the same address and the kernel spreads
    /// incoming connections over them. Unix only.
    ///
    /// ```
    /// let opts = tcpserver::ListenOptions::new().reuse_port(true);
    /// # let _ = opts;
    /// ```
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Sets `SO_REUSEADDR` (default on): rebinding right after a restart works even while old
    /// connections sit in `TIME_WAIT`.
    ///
    /// ```
    /// let opts = tcpserver::ListenOptions::new().reuse_address(false);
    /// # let _ = opts;
    /// ```
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// Sets `TCP_NODELAY` (default on) on the listener and so on every accepted connection.
    ///
    /// ```
    /// let opts = tcpserver::ListenOptions::new().nodelay(false);
    /// # let _ = opts;
    /// ```
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    /// The accept queue length passed to `listen(2)` (default 1024; the kernel caps it at
    /// `net.core.somaxconn`).
    ///
    /// ```
    /// let opts = tcpserver::ListenOptions::new().backlog(4096);
    /// # let _ = opts;
    /// ```
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }

    /// Enables server-side TCP Fast Open (`TCP_FASTOPEN`) with the given queue length of pending
    /// Fast Open requests (the Go library's default is 256). Linux only: elsewhere
    /// [`build`](crate::ServerBuilder::build) fails with [`Error::Unsupported`].
    ///
    /// The kernel also needs bit `0x2` in `/proc/sys/net/ipv4/tcp_fastopen` to use it.
    ///
    /// ```
    /// let opts = tcpserver::ListenOptions::new().fast_open(256);
    /// # let _ = opts;
    /// ```
    pub fn fast_open(mut self, queue_len: u32) -> Self {
        self.fast_open = Some(queue_len);
        self
    }

    /// Sets `TCP_DEFER_ACCEPT` (one second): a connection is handed to `accept` only once the
    /// client has sent data. Linux only: elsewhere [`build`](crate::ServerBuilder::build) fails
    /// with [`Error::Unsupported`].
    ///
    /// ```
    /// let opts = tcpserver::ListenOptions::new().defer_accept(true);
    /// # let _ = opts;
    /// ```
    pub fn defer_accept(mut self, on: bool) -> Self {
        self.defer_accept = on;
        self
    }

    /// Sets `IPV6_V6ONLY` on an IPv6 listener: `true` accepts only IPv6, `false` also accepts
    /// IPv4-mapped connections. Ignored for IPv4 addresses.
    ///
    /// ```
    /// let opts = tcpserver::ListenOptions::new().only_v6(false);
    /// # let _ = opts;
    /// ```
    pub fn only_v6(mut self, on: bool) -> Self {
        self.only_v6 = Some(on);
        self
    }

    /// Turns TCP keepalive on (`SO_KEEPALIVE`) for every accepted connection, with the first
    /// probe after `idle` without traffic (`TCP_KEEPIDLE`): dead peers (a crashed host, a
    /// dropped NAT mapping) are found and their connections closed.
    ///
    /// ```
    /// use std::time::Duration;
    /// let opts = tcpserver::ListenOptions::new()
    ///     .keepalive(Duration::from_secs(60))
    ///     .keepalive_interval(Duration::from_secs(10))
    ///     .keepalive_retries(5);
    /// # let _ = opts;
    /// ```
    pub fn keepalive(mut self, idle: Duration) -> Self {
        self.keepalive.get_or_insert_default().idle = Some(idle);
        self
    }

    /// The time between keepalive probes (`TCP_KEEPINTVL`); turns keepalive on.
    ///
    /// ```
    /// let opts = tcpserver::ListenOptions::new().keepalive_interval(std::time::Duration::from_secs(5));
    /// # let _ = opts;
    /// ```
    pub fn keepalive_interval(mut self, interval: Duration) -> Self {
        self.keepalive.get_or_insert_default().interval = Some(interval);
        self
    }

    /// How many unanswered probes close the connection (`TCP_KEEPCNT`); turns keepalive on.
    ///
    /// ```
    /// let opts = tcpserver::ListenOptions::new().keepalive_retries(3);
    /// # let _ = opts;
    /// ```
    pub fn keepalive_retries(mut self, retries: u32) -> Self {
        self.keepalive.get_or_insert_default().retries = Some(retries);
        self
    }

    /// `TCP_USER_TIMEOUT` on every accepted connection: sent data that stays unacknowledged for
    /// longer than `timeout` closes the connection (Linux only: elsewhere
    /// [`build`](crate::ServerBuilder::build) fails with [`Error::Unsupported`]).
    ///
    /// ```
    /// let opts = tcpserver::ListenOptions::new().user_timeout(std::time::Duration::from_secs(30));
    /// # let _ = opts;
    /// ```
    pub fn user_timeout(mut self, timeout: Duration) -> Self {
        self.user_timeout = Some(timeout);
        self
    }

    /// The permission bits of the socket files of Unix domain listeners, e.g. `0o660` (default:
    /// what the umask leaves). Set right after `bind(2)`, before the server accepts.
    ///
    /// ```
    /// let opts = tcpserver::ListenOptions::new().unix_mode(0o660);
    /// # let _ = opts;
    /// ```
    pub fn unix_mode(mut self, mode: u32) -> Self {
        self.unix_mode = Some(mode);
        self
    }

    /// Fails for options this platform cannot apply to accepted sockets.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.user_timeout.is_some() && !sys::HAS_USER_TIMEOUT {
            return Err(Error::Unsupported("TCP_USER_TIMEOUT"));
        }
        Ok(())
    }

    /// Whether accepted TCP sockets need any option set on them (see [`tune`](Self::tune)).
    pub(crate) fn tunes_accepted(&self) -> bool {
        (self.nodelay && !sys::NODELAY_INHERITED)
            || self.keepalive.is_some()
            || self.user_timeout.is_some()
    }

    /// Sets the per-connection options on an accepted TCP socket.
    pub(crate) fn tune(&self, socket: SockRef<'_>) -> std::io::Result<()> {
        if self.nodelay && !sys::NODELAY_INHERITED {
            socket.set_tcp_nodelay(true)?;
        }
        if let Some(k) = self.keepalive {
            let mut ka = TcpKeepalive::new();
            if let Some(idle) = k.idle {
                ka = ka.with_time(idle);
            }
            if let Some(interval) = k.interval {
                ka = ka.with_interval(interval);
            }
            if let Some(retries) = k.retries {
                ka = ka.with_retries(retries);
            }
            socket.set_tcp_keepalive(&ka)?;
        }
        if let Some(t) = self.user_timeout {
            sys::set_user_timeout(&socket, t)?;
        }
        Ok(())
    }

    /// Creates a non-blocking listening socket bound to `addr` with these options.
    pub(crate) fn bind(&self, addr: SocketAddr) -> Result<std::net::TcpListener, Error> {
        let bind_err = |source| Error::Bind { addr, source };
        let opt_err = |option| move |source| Error::SocketOption { option, source };
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .map_err(bind_err)?;
        if self.reuse_address {
            socket
                .set_reuse_address(true)
                .map_err(opt_err("SO_REUSEADDR"))?;
        }
        if self.reuse_port {
            sys::set_reuse_port(&socket)?;
        }
        if addr.is_ipv6()
            && let Some(v6) = self.only_v6
        {
            socket.set_only_v6(v6).map_err(opt_err("IPV6_V6ONLY"))?;
        }
        socket
            .set_tcp_nodelay(self.nodelay)
            .map_err(opt_err("TCP_NODELAY"))?;
        if self.defer_accept {
            sys::set_defer_accept(&socket, 1)?;
        }
        socket.set_nonblocking(true).map_err(bind_err)?;
        socket.bind(&addr.into()).map_err(bind_err)?;
        // TCP_FASTOPEN must be set before listen(2) to take effect on the first SYNs.
        if let Some(qlen) = self.fast_open {
            sys::set_fast_open(&socket, qlen)?;
        }
        let backlog = i32::try_from(self.backlog).unwrap_or(i32::MAX);
        socket.listen(backlog).map_err(bind_err)?;
        Ok(socket.into())
    }
}
