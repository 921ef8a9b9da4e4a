//! Without the `tls` feature: uninhabited stand-ins for the TLS acceptor and stream. A TLS
//! listener or connection cannot exist, so the accept loop and [`Connection`](crate::Connection)
//! keep one code path and their TLS branches compile to nothing (no rustls in the build).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::Error;

/// The acceptor of a TLS listener: none exists without the `tls` feature.
pub(crate) enum Acceptor {}

/// A server-side TLS stream: none exists without the `tls` feature.
pub(crate) enum Stream {}

impl Stream {
    /// The TCP stream under the TLS session (as `tokio_rustls`'s `get_ref`).
    pub(crate) fn get_ref(&self) -> (&TcpStream, &Stream) {
        match *self {}
    }
}

/// Never runs: there is no acceptor to call it with.
pub(crate) async fn handshake(
    acceptor: &Acceptor,
    _tcp: TcpStream,
    _timeout: Duration,
) -> Result<Stream, Error> {
    match *acceptor {}
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match *self.get_mut() {}
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match *self.get_mut() {}
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match *self.get_mut() {}
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match *self.get_mut() {}
    }
}
