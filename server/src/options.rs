//! Listen-socket tuning: what the Go library calls `ListenConfig`.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

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
