//! Without the `tls` feature: uninhabited stand-ins for the TLS configuration, acceptor and
//! stream. A TLS listener or connection cannot exist, so the accept loops and
//! [`Connection`](crate::Connection) keep one code path and their TLS branches compile to
//! nothing (no rustls in the build).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Error;
use crate::stream::Stream;

/// The TLS configuration of a running server: none exists without the `tls` feature.
pub(crate) enum Reloadable {}

/// A TLS acceptor: none exists without the `tls` feature.
pub(crate) enum Acceptor {}

/// A server-side TLS stream: none exists without the `tls` feature.
pub(crate) enum TlsStream {}

impl Reloadable {
    pub(crate) fn acceptor(&self) -> Acceptor {
        match *self {}
    }
}

impl TlsStream {
    /// The stream under the TLS session (as `tokio_rustls`'s `get_ref`).
    pub(crate) fn get_ref(&self) -> (&Stream, &TlsStream) {
        match *self {}
    }
}

/// Never runs: there is no acceptor to call it with.
pub(crate) async fn handshake(
    acceptor: &Acceptor,
    _stream: Stream,
    _timeout: Duration,
) -> Result<TlsStream, Error> {
    match *acceptor {}
}

impl AsyncRead for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match *self.get_mut() {}
    }
}

impl AsyncWrite for TlsStream {
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
