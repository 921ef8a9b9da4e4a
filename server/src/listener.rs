//! Listening sockets: TCP addresses and Unix domain socket paths bound by the builder (with
//! stale-socket handling and file mode), their copies for the per-core workers, and accepting
//! on them.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::address::{ListenAddr, PeerAddr};
use crate::stream::Stream;
use crate::{Error, ListenOptions};

/// A bound, listening socket, not yet registered with a tokio runtime.
#[derive(Debug)]
pub(crate) struct Bound {
    pub(crate) socket: BoundSocket,
    pub(crate) addr: ListenAddr,
    /// Bound by us (not inherited): a per-core worker may bind its own copy with `SO_REUSEPORT`.
    pub(crate) rebindable: bool,
    /// The socket file to remove when the last copy of this listener closes.
    unix_file: Option<Arc<UnixFile>>,
    /// Clients send a PROXY protocol header first.
    pub(crate) proxy_protocol: bool,
    /// A per-core worker's own `SO_REUSEPORT` socket (not a copy of the builder's).
    pub(crate) rebound: bool,
}

#[derive(Debug)]
pub(crate) enum BoundSocket {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

impl AsFd for Bound {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match &self.socket {
            BoundSocket::Tcp(l) => l.as_fd(),
            BoundSocket::Unix(l) => l.as_fd(),
        }
    }
}

impl Bound {
    /// Binds a TCP listener with `options`.
    pub(crate) fn tcp(addr: std::net::SocketAddr, options: &ListenOptions) -> Result<Bound, Error> {
        let listener = options.bind(addr)?;
        let local = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        Ok(Bound {
            socket: BoundSocket::Tcp(listener),
            addr: ListenAddr::Tcp(local),
            rebindable: true,
            unix_file: None,
            proxy_protocol: false,
            rebound: false,
        })
    }

    /// Binds a Unix domain socket at `path`. A socket file left behind by a process that is
    /// gone (connecting to it is refused) is removed first; one that still has a listener, or
    /// a file that is not a socket, makes binding fail. The file gets `options`' mode, if set,
    /// and is removed when the server stops listening.
    pub(crate) fn unix(path: &Path, options: &ListenOptions) -> Result<Bound, Error> {
        let err = |source| Error::BindUnix {
            path: path.to_path_buf(),
            source,
        };
        remove_stale(path).map_err(err)?;
        let listener = bind_unix(path, options.backlog).map_err(err)?;
        if let Some(mode) = options.unix_mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(err)?;
        }
        let meta = std::fs::metadata(path).map_err(err)?;
        Ok(Bound {
            socket: BoundSocket::Unix(listener),
            addr: ListenAddr::Unix(path.to_path_buf()),
            rebindable: false,
            unix_file: Some(Arc::new(UnixFile {
                path: path.to_path_buf(),
                dev: meta.dev(),
                ino: meta.ino(),
                keep: AtomicBool::new(false),
            })),
            proxy_protocol: false,
            rebound: false,
        })
    }

    /// The listener for one more per-core worker: a new `SO_REUSEPORT` socket on the same TCP
    /// address when `reuse_port` is set and we bound it, else the same socket (shared queue).
    pub(crate) fn for_worker(&self, options: &ListenOptions) -> Result<Bound, Error> {
        if let (BoundSocket::Tcp(_), ListenAddr::Tcp(addr), true, true) = (
            &self.socket,
            &self.addr,
            self.rebindable,
            options.reuse_port,
        ) {
            let mut bound = Bound::tcp(*addr, options)?;
            bound.proxy_protocol = self.proxy_protocol;
            bound.rebound = true;
            return Ok(bound);
        }
        let socket = match &self.socket {
            BoundSocket::Tcp(l) => BoundSocket::Tcp(l.try_clone()?),
            BoundSocket::Unix(l) => BoundSocket::Unix(l.try_clone()?),
        };
        Ok(Bound {
            socket,
            addr: self.addr.clone(),
            rebindable: self.rebindable,
            unix_file: self.unix_file.clone(),
            proxy_protocol: self.proxy_protocol,
            rebound: false,
        })
    }

    /// Registers the socket with the current tokio runtime.
    pub(crate) fn into_listener(self) -> io::Result<Listener> {
        let socket = match self.socket {
            BoundSocket::Tcp(l) => {
                l.set_nonblocking(true)?;
                ListenSocket::Tcp(tokio::net::TcpListener::from_std(l)?)
            }
            BoundSocket::Unix(l) => {
                l.set_nonblocking(true)?;
                ListenSocket::Unix(tokio::net::UnixListener::from_std(l)?)
            }
        };
        Ok(Listener {
            socket,
            _unix_file: self.unix_file,
            proxy_protocol: self.proxy_protocol,
        })
    }
}

impl Bound {
    /// Adopts a socket that is already bound and listening (inherited from systemd or a
    /// previous process, or made by the caller): TCP or Unix domain, found out from the socket.
    pub(crate) fn inherited(fd: OwnedFd) -> Result<Bound, Error> {
        let err = |source| Error::Inherited { source };
        let socket = socket2::Socket::from(fd);
        if socket.r#type().map_err(err)? != socket2::Type::STREAM
            || !socket.is_listener().map_err(err)?
        {
            return Err(err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a listening stream socket",
            )));
        }
        let local = socket.local_addr().map_err(err)?;
        socket.set_nonblocking(true).map_err(err)?;
        let (socket, addr) = if let Some(addr) = local.as_socket() {
            (BoundSocket::Tcp(socket.into()), ListenAddr::Tcp(addr))
        } else if local.is_unix() {
            let path = local
                .as_pathname()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            (BoundSocket::Unix(socket.into()), ListenAddr::Unix(path))
        } else {
            return Err(err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "neither an IP nor a Unix domain socket",
            )));
        };
        Ok(Bound {
            socket,
            addr,
            rebindable: false,
            unix_file: None,
            proxy_protocol: false,
            rebound: false,
        })
    }
}

/// A copy of a listening socket kept for a hand-over to a new process
/// ([`ServerHandle::hand_over`](crate::ServerHandle::hand_over)).
#[derive(Debug)]
pub(crate) struct HandOverSocket {
    pub(crate) fd: OwnedFd,
    pub(crate) proxy_protocol: bool,
    unix_file: Option<Arc<UnixFile>>,
}

impl HandOverSocket {
    /// Whether the socket file (of a Unix listener we bound) goes with the socket.
    pub(crate) fn owns_file(&self) -> bool {
        self.unix_file.is_some()
    }

    /// Another copy (the same socket).
    pub(crate) fn duplicate(&self) -> io::Result<HandOverSocket> {
        Ok(HandOverSocket {
            fd: self.fd.try_clone()?,
            proxy_protocol: self.proxy_protocol,
            unix_file: self.unix_file.clone(),
        })
    }

    /// The new process owns the socket file now: this process must not remove it at stop.
    pub(crate) fn give_file_away(&self) {
        if let Some(f) = &self.unix_file {
            f.keep.store(true, Ordering::Release);
        }
    }
}

impl Bound {
    /// A duplicate of the socket (the same kernel socket and accept queue) for a hand-over.
    pub(crate) fn hand_over_copy(&self) -> io::Result<HandOverSocket> {
        let fd = match &self.socket {
            BoundSocket::Tcp(l) => l.try_clone()?.into(),
            BoundSocket::Unix(l) => l.try_clone()?.into(),
        };
        Ok(HandOverSocket {
            fd,
            proxy_protocol: self.proxy_protocol,
            unix_file: self.unix_file.clone(),
        })
    }

    /// Adopts a socket handed over by the previous process, with its PROXY protocol setting;
    /// `owns_file`: the previous process had bound this Unix socket, so its file is removed
    /// when this process stops listening.
    pub(crate) fn handed_over(
        fd: OwnedFd,
        proxy_protocol: bool,
        owns_file: bool,
    ) -> Result<Bound, Error> {
        let mut bound = Bound::inherited(fd)?;
        bound.proxy_protocol = proxy_protocol;
        if let (true, ListenAddr::Unix(path)) = (owns_file, &bound.addr)
            && let Ok(meta) = std::fs::symlink_metadata(path)
            && meta.file_type().is_socket()
        {
            bound.unix_file = Some(Arc::new(UnixFile {
                path: path.clone(),
                dev: meta.dev(),
                ino: meta.ino(),
                keep: AtomicBool::new(false),
            }));
        }
        Ok(bound)
    }
}

/// Removes `path` if it is a socket nobody listens on.
fn remove_stale(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the path exists and is not a socket",
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "another process listens on this socket",
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::debug!(path = %path.display(), "removing a stale socket file");
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        }
        // Gone meanwhile, or not ours to judge: let bind(2) report.
        Err(_) => Ok(()),
    }
}

/// `socket`, `bind`, `listen(backlog)` (std's `UnixListener::bind` fixes the backlog at 128).
fn bind_unix(path: &Path, backlog: u32) -> io::Result<std::os::unix::net::UnixListener> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.bind(&SockAddr::unix(path)?)?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// A socket file we created; removed when dropped, unless another one replaced it meanwhile
/// or it was handed over to a new process with the socket.
#[derive(Debug)]
struct UnixFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
    keep: AtomicBool,
}

impl Drop for UnixFile {
    fn drop(&mut self) {
        if !self.keep.load(Ordering::Acquire)
            && let Ok(m) = std::fs::symlink_metadata(&self.path)
            && m.dev() == self.dev
            && m.ino() == self.ino
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A listening socket registered with a tokio runtime.
#[derive(Debug)]
pub(crate) struct Listener {
    socket: ListenSocket,
    _unix_file: Option<Arc<UnixFile>>,
    /// Clients send a PROXY protocol header first.
    pub(crate) proxy_protocol: bool,
}

#[derive(Debug)]
enum ListenSocket {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

impl AsFd for Listener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match &self.socket {
            ListenSocket::Tcp(l) => l.as_fd(),
            ListenSocket::Unix(l) => l.as_fd(),
        }
    }
}

impl Listener {
    /// Waits for the next connection.
    pub(crate) async fn accept(&self) -> io::Result<(Stream, PeerAddr)> {
        match &self.socket {
            ListenSocket::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                Ok((Stream::Tcp(s), PeerAddr::Tcp(peer)))
            }
            ListenSocket::Unix(l) => {
                let (s, _) = l.accept().await?;
                let cred = s.peer_cred().ok();
                Ok((Stream::Unix(s), PeerAddr::Unix(cred)))
            }
        }
    }

    /// Accepts a connection already queued, with a non-blocking `accept` on the socket itself
    /// (tokio's readiness may not have seen the last arrivals yet); `WouldBlock` when none is.
    pub(crate) fn accept_now(&self) -> io::Result<(Stream, PeerAddr)> {
        let tcp = matches!(self.socket, ListenSocket::Tcp(_));
        let (s, addr) = socket2::SockRef::from(self).accept()?;
        s.set_nonblocking(true)?;
        if tcp {
            let peer = addr
                .as_socket()
                .ok_or_else(|| io::Error::other("accepted a non-IP socket"))?;
            let s = tokio::net::TcpStream::from_std(s.into())?;
            Ok((Stream::Tcp(s), PeerAddr::Tcp(peer)))
        } else {
            let s = tokio::net::UnixStream::from_std(s.into())?;
            let cred = s.peer_cred().ok();
            Ok((Stream::Unix(s), PeerAddr::Unix(cred)))
        }
    }
}
