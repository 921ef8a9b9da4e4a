//! The PROXY protocol (HAProxy's v1 text and v2 binary headers, as sent by HAProxy, AWS NLB,
//! nginx `stream`): a load balancer in front of the server sends the client's real address
//! before the client's bytes. Listeners added with
//! [`ServerBuilder::listen_proxied`](crate::ServerBuilder::listen_proxied) (TCP) or
//! [`ServerBuilder::listen_unix_proxied`](crate::ServerBuilder::listen_unix_proxied) (a Unix
//! domain socket, e.g. HAProxy's `server app unix@/run/app.sock send-proxy-v2`) read the header
//! first (within the handshake timeout, before TLS); the connection's
//! [`peer`](crate::Connection::peer) is then the real client, and the header itself is
//! attached as connection state ([`ProxyHeader`]). A connection without a valid header is
//! closed with a [`ProxyHeaderError`] (logged at debug level). Parsing is done by the `ppp`
//! crate.

use std::io;
use std::net::SocketAddr;

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpStream, UnixStream};

use crate::PeerAddr;
use crate::stream::Stream;

/// The v2 signature.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 header, `\r\n` included (the specification's 107 bytes).
const V1_MAX: usize = 107;

/// Why a PROXY protocol header was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyHeaderError {
    /// Reading the header failed (or the peer closed before sending one completely).
    #[error("reading the PROXY header failed: {0}")]
    Io(#[from] io::Error),
    /// The connection does not start with `PROXY ` (v1) or the v2 signature.
    #[error("the connection does not start with a PROXY protocol header")]
    Missing,
    /// A v1 header that does not parse.
    #[error("malformed PROXY protocol v1 header: {0}")]
    V1(String),
    /// A v2 header that does not parse.
    #[error("malformed PROXY protocol v2 header: {0}")]
    V2(String),
    /// No complete header within the server's handshake timeout.
    #[error("no PROXY protocol header within the handshake timeout")]
    Timeout,
}

/// What a PROXY protocol header said. Attached to the connection as state:
/// `conn.state::<ProxyHeader>()`.
///
/// ```no_run
/// # fn f(conn: tcpserver::Connection) {
/// use tcpserver::proxy_protocol::ProxyHeader;
/// if let Some(h) = conn.state::<ProxyHeader>() {
///     println!("client {:?} via load balancer {}", h.source, h.proxy);
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    /// 1 or 2.
    pub version: u8,
    /// The client's address (`None` for `UNKNOWN`, v2 `LOCAL` or non-IP addresses).
    pub source: Option<SocketAddr>,
    /// The address the client connected to.
    pub destination: Option<SocketAddr>,
    /// The load balancer: the socket's peer that sent the header (a TCP address, or a Unix
    /// domain peer with its credentials).
    pub proxy: PeerAddr,
}

/// Reads a PROXY protocol header (v1 or v2) from the start of `stream`, consuming exactly the
/// header's bytes: what follows is left for the application.
///
/// ```no_run
/// # async fn f(mut tcp: tokio::net::TcpStream) -> Result<(), tcpserver::proxy_protocol::ProxyHeaderError> {
/// let header = tcpserver::proxy_protocol::read_header(&mut tcp).await?;
/// println!("real client: {:?}", header.source);
/// # Ok(()) }
/// ```
pub async fn read_header(stream: &mut TcpStream) -> Result<ProxyHeader, ProxyHeaderError> {
    let proxy = PeerAddr::Tcp(stream.peer_addr()?);
    read_header_from(stream, proxy).await
}

/// A stream socket the header can be peeked from (TCP or Unix domain).
trait Peek: AsyncRead + Unpin {
    /// Reads what is queued without consuming it; waits for at least one byte (0: EOF).
    async fn peek_bytes(&mut self, buf: &mut [u8]) -> io::Result<usize>;
}

impl Peek for TcpStream {
    async fn peek_bytes(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.peek(buf).await
    }
}

impl Peek for UnixStream {
    async fn peek_bytes(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // tokio has no `UnixStream::peek`: recv(MSG_PEEK) when the socket is readable.
        loop {
            self.readable().await?;
            let peeked = self.try_io(tokio::io::Interest::READABLE, || {
                // SAFETY: a `[u8]` is a valid `[MaybeUninit<u8>]`, and recv only writes bytes.
                let uninit =
                    unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) };
                socket2::SockRef::from(&*self).peek(uninit)
            });
            match peeked {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return r,
            }
        }
    }
}

async fn read_header_from<S: Peek>(
    stream: &mut S,
    proxy: PeerAddr,
) -> Result<ProxyHeader, ProxyHeaderError> {
    let mut first = [0u8; 1];
    if stream.peek_bytes(&mut first).await? == 0 {
        return Err(ProxyHeaderError::Missing);
    }
    let (version, source, destination) = match first[0] {
        b'\r' => read_v2(stream).await?,
        b'P' => read_v1(stream).await?,
        _ => return Err(ProxyHeaderError::Missing),
    };
    Ok(ProxyHeader {
        version,
        source,
        destination,
        proxy,
    })
}

type Addresses = (u8, Option<SocketAddr>, Option<SocketAddr>);

async fn read_v2<S: Peek>(stream: &mut S) -> Result<Addresses, ProxyHeaderError> {
    let mut header = vec![0u8; 16];
    stream.read_exact(&mut header).await?;
    if &header[..12] != V2_SIGNATURE {
        return Err(ProxyHeaderError::Missing);
    }
    let len = u16::from_be_bytes([header[14], header[15]]) as usize;
    header.resize(16 + len, 0);
    stream.read_exact(&mut header[16..]).await?;
    let parsed =
        ppp::v2::Header::try_from(&header[..]).map_err(|e| ProxyHeaderError::V2(e.to_string()))?;
    let (src, dst) = match (parsed.command, parsed.addresses) {
        (ppp::v2::Command::Local, _) => (None, None),
        (_, ppp::v2::Addresses::IPv4(a)) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        (_, ppp::v2::Addresses::IPv6(a)) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        _ => (None, None),
    };
    Ok((2, src, dst))
}

async fn read_v1<S: Peek>(stream: &mut S) -> Result<Addresses, ProxyHeaderError> {
    let mut header = Vec::with_capacity(V1_MAX);
    let mut buf = [0u8; V1_MAX];
    loop {
        let n = stream.peek_bytes(&mut buf[..V1_MAX - header.len()]).await?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        // Up to the newline, all of it is header; without one, every byte peeked is.
        let end = buf[..n].iter().position(|&b| b == b'\n').map(|i| i + 1);
        let take = end.unwrap_or(n);
        stream.read_exact(&mut buf[..take]).await?;
        header.extend_from_slice(&buf[..take]);
        if end.is_some() {
            break;
        }
        if header.len() >= V1_MAX {
            return Err(ProxyHeaderError::V1("longer than 107 bytes".into()));
        }
    }
    let parsed =
        ppp::v1::Header::try_from(&header[..]).map_err(|e| ProxyHeaderError::V1(e.to_string()))?;
    let (src, dst) = match parsed.addresses {
        ppp::v1::Addresses::Tcp4(a) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        ppp::v1::Addresses::Tcp6(a) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        ppp::v1::Addresses::Unknown => (None, None),
    };
    Ok((1, src, dst))
}

/// Reads the header of a connection accepted on a proxied listener, within `timeout`.
pub(crate) async fn accept(
    stream: &mut Stream,
    timeout: Duration,
) -> Result<ProxyHeader, ProxyHeaderError> {
    let read = async {
        match stream {
            Stream::Tcp(tcp) => read_header(tcp).await,
            Stream::Unix(unix) => {
                let proxy = PeerAddr::Unix(unix.peer_cred().ok());
                read_header_from(unix, proxy).await
            }
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(ProxyHeaderError::Timeout))
}
