//! TLS with rustls: a ready-made server configuration with session resumption, and the
//! handshake used for TLS listeners and [`Connection::start_tls`](crate::Connection::start_tls).
//!
//! # Session resumption
//!
//! rustls's default [`ServerConfig`] keeps a session cache of 256 entries and issues no TLS 1.3
//! tickets. Under many short connections (keep-alive off) most clients would then pay for a full
//! handshake. [`server_config`] (or [`enable_resumption`] on your own configuration) sets a
//! rotating ticket key ([`rustls::crypto::aws_lc_rs::Ticketer`]) and a larger cache, so a client
//! that reconnects with the same `Arc<ClientConfig>` resumes its session.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::Error;
use crate::stream::Stream;

/// Size of the stateful session cache set by [`enable_resumption`].
pub const SESSION_CACHE_SIZE: usize = 16 * 1024;

/// A TLS server configuration for one certificate chain and key, without client
/// authentication, with session resumption on (see [`enable_resumption`]). Set ALPN or other
/// fields on the result before wrapping it in an `Arc` for
/// [`ServerBuilder::tls`](crate::ServerBuilder::tls).
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
///
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// let chain = vec![CertificateDer::from(cert.cert.der().to_vec())];
/// let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
/// let mut config = tcpserver::tls::server_config(chain, key)?;
/// config.alpn_protocols = vec![b"http/1.1".to_vec()];
/// let server = tcpserver::Server::builder("127.0.0.1:0").tls(Arc::new(config)).build()?;
/// # let _ = server;
/// # Ok::<(), tcpserver::Error>(())
/// ```
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, Error> {
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)?;
    enable_resumption(&mut config)?;
    Ok(config)
}

/// Turns on session resumption for many clients: TLS 1.3 tickets from a rotating key (the
/// server keeps no per-client state) and a stateful cache of [`SESSION_CACHE_SIZE`] entries for
/// TLS 1.2 clients without ticket support.
///
/// ```
/// # fn f(mut config: rustls::ServerConfig) -> Result<(), tcpserver::Error> {
/// tcpserver::tls::enable_resumption(&mut config)?;
/// # Ok(()) }
/// ```
pub fn enable_resumption(config: &mut ServerConfig) -> Result<(), Error> {
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
    Ok(())
}

/// Runs the server side of a TLS handshake within `timeout`.
pub(crate) async fn handshake(
    acceptor: &TlsAcceptor,
    stream: Stream,
    timeout: Duration,
) -> Result<TlsStream<Stream>, Error> {
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(Error::Io(e)),
        Err(_) => Err(Error::Timeout),
    }
}

/// The TLS configuration of a running server, replaceable while it serves (see
/// [`ServerHandle::reload_tls`](crate::ServerHandle::reload_tls)): each handshake takes the
/// configuration current when it starts, so connections keep the one they were made with.
pub(crate) struct Reloadable(RwLock<TlsAcceptor>);

impl Reloadable {
    pub(crate) fn new(config: Arc<ServerConfig>) -> Reloadable {
        Reloadable(RwLock::new(TlsAcceptor::from(config)))
    }

    /// The acceptor for a new handshake (an `Arc` clone).
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn replace(&self, config: Arc<ServerConfig>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = TlsAcceptor::from(config);
    }
}
