//! The addresses of listeners ([`ListenAddr`]) and of peers ([`PeerAddr`]): TCP or Unix domain.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use tokio::net::unix::UCred;

/// An address a server listens on: a TCP address or the path of a Unix domain socket.
///
/// ```
/// use tcpserver::{ListenAddr, Server};
///
/// let server = Server::builder("127.0.0.1:0").build()?;
/// match &server.listen_addrs()[0] {
///     ListenAddr::Tcp(addr) => assert_ne!(addr.port(), 0),
///     ListenAddr::Unix(path) => println!("listening on {}", path.display()),
/// }
/// # Ok::<(), tcpserver::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListenAddr {
    /// A TCP address (with the real port when bound to port 0).
    Tcp(SocketAddr),
    /// The file system path of a Unix domain socket (empty for an unnamed inherited socket).
    Unix(PathBuf),
}

impl ListenAddr {
    /// The TCP address, if this is a TCP listener.
    ///
    /// ```
    /// let a = tcpserver::ListenAddr::Unix("/run/app.sock".into());
    /// assert_eq!(a.tcp(), None);
    /// ```
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            ListenAddr::Tcp(a) => Some(*a),
            ListenAddr::Unix(_) => None,
        }
    }
}

impl fmt::Display for ListenAddr {
    /// `127.0.0.1:8080`, `[::1]:8080` or `unix:/run/app.sock`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(a) => a.fmt(f),
            ListenAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Who is on the other end of a connection: a TCP address, or a process connected over a Unix
/// domain socket with its credentials (`SO_PEERCRED`: user, group and process id, taken when
/// the connection was accepted) where the system gives them.
///
/// ```no_run
/// # fn f(conn: tcpserver::Connection) {
/// use tcpserver::PeerAddr;
/// match conn.peer() {
///     PeerAddr::Tcp(addr) => println!("client {addr}"),
///     PeerAddr::Unix(Some(cred)) => println!("local user {}", cred.uid()),
///     PeerAddr::Unix(None) => println!("local client"),
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerAddr {
    /// A TCP peer.
    Tcp(SocketAddr),
    /// A Unix domain socket peer, with its credentials if known.
    Unix(Option<UCred>),
}

impl PeerAddr {
    /// The TCP address, if the peer came over TCP.
    ///
    /// ```
    /// let peer = tcpserver::PeerAddr::Tcp("192.0.2.1:4000".parse().unwrap());
    /// assert_eq!(peer.tcp().map(|a| a.port()), Some(4000));
    /// ```
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            PeerAddr::Tcp(a) => Some(*a),
            PeerAddr::Unix(_) => None,
        }
    }
}

impl fmt::Display for PeerAddr {
    /// `192.0.2.1:4000`, `unix:uid=1000,gid=1000,pid=42` or `unix`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Tcp(a) => a.fmt(f),
            PeerAddr::Unix(None) => f.write_str("unix"),
            PeerAddr::Unix(Some(c)) => {
                write!(f, "unix:uid={},gid={}", c.uid(), c.gid())?;
                match c.pid() {
                    Some(pid) => write!(f, ",pid={pid}"),
                    None => Ok(()),
                }
            }
        }
    }
}
