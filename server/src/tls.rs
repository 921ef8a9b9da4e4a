//! TLS with rustls (feature `tls`): a ready-made server configuration with session resumption,
//! the crypto provider it is built with, and the handshake used for TLS listeners and
//! [`Connection::start_tls`](crate::Connection::start_tls).
//!
//! # Which crypto provider
//!
//! rustls does its cryptography through a [`CryptoProvider`]. This crate never lets rustls guess
//! one (rustls's `ServerConfig::builder()` panics when both `aws-lc-rs` and `ring` are compiled
//! into the program and no process default is installed). [`crypto_provider`], used by
//! [`server_config`], chooses in this order:
//!
//! 1. the process default, if the application installed one with
//!    [`CryptoProvider::install_default`] (so the application decides, also for a provider of its
//!    own);
//! 2. else the provider of this crate's feature: `aws-lc-rs` (the default) or, when only `ring`
//!    is enabled, `ring`;
//! 3. else (feature `tls` without a provider feature and no process default)
//!    [`Error::NoCryptoProvider`].
//!
//! To use `ring` only (no aws-lc-rs, no C compiler for it):
//! `tcpserver-rs = { version = "0.1", default-features = false, features = ["ring"] }`.
//!
//! # Session resumption
//!
//! rustls's default [`ServerConfig`] keeps a session cache of 256 entries and issues no
//! stateless TLS 1.3 tickets. Under many short connections (keep-alive off) most clients would
//! then pay for a full handshake. [`server_config`] (or [`enable_resumption`] on your own
//! configuration) sets a rotating ticket key and a larger cache, so a client that reconnects with
//! the same `Arc<ClientConfig>` resumes its session. The ticket key comes from the provider
//! feature of this crate (`rustls::crypto::aws_lc_rs::Ticketer` with `aws-lc-rs`, else
//! `rustls::crypto::ring::Ticketer`), so it follows the provider the crate selected; tickets are
//! only read by the server that issued them, so a process-default provider of another family is
//! no problem. Without a provider feature no ticket key is set and sessions resume through the
//! cache alone.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::Error;
use crate::stream::Stream;

/// A server-side TLS stream (uninhabited without the `tls` feature).
pub(crate) type TlsStream = tokio_rustls::server::TlsStream<Stream>;

/// Size of the stateful session cache set by [`enable_resumption`].
pub const SESSION_CACHE_SIZE: usize = 16 * 1024;

/// The crypto provider this crate builds TLS configurations with: the process default when one
/// is installed, else the one selected by this crate's feature (`aws-lc-rs`, else `ring`); see
/// the [module documentation](self#which-crypto-provider). Use it for your own rustls
/// configurations (`ServerConfig::builder_with_provider`) so that they never panic over an
/// ambiguous provider.
///
/// # Errors
///
/// [`Error::NoCryptoProvider`] when no process default is installed and neither the `aws-lc-rs`
/// nor the `ring` feature is enabled.
///
/// # Example
///
/// ```
/// let provider = tcpserver::tls::crypto_provider()?;
/// let builder = rustls::ClientConfig::builder_with_provider(provider)
///     .with_safe_default_protocol_versions()?;
/// # let _ = builder;
/// # Ok::<(), tcpserver::Error>(())
/// ```
pub fn crypto_provider() -> Result<Arc<CryptoProvider>, Error> {
    if let Some(installed) = CryptoProvider::get_default() {
        return Ok(installed.clone());
    }
    #[cfg(feature = "aws-lc-rs")]
    return Ok(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    return Ok(Arc::new(rustls::crypto::ring::default_provider()));
    #[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
    return Err(Error::NoCryptoProvider);
}

/// A TLS server configuration for one certificate chain and key, without client
/// authentication, with session resumption on (see [`enable_resumption`]), built with
/// [`crypto_provider`] (never panics over the provider). Set ALPN or other fields on the result
/// before wrapping it in an `Arc` for [`ServerBuilder::tls`](crate::ServerBuilder::tls).
///
/// # Errors
///
/// [`Error::Tls`] for a bad certificate or key (or a provider without safe protocol
/// versions), [`Error::NoCryptoProvider`] when no provider can be chosen.
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
    let mut config = ServerConfig::builder_with_provider(crypto_provider()?)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)?;
    enable_resumption(&mut config)?;
    Ok(config)
}

/// Turns on session resumption for many clients: TLS 1.3 tickets from a rotating key (the
/// server keeps no per-client state; the key comes from this crate's provider feature, see the
/// [module documentation](self#session-resumption)) and a stateful cache of
/// [`SESSION_CACHE_SIZE`] entries for TLS 1.2 clients without ticket support.
///
/// ```
/// # fn f(mut config: rustls::ServerConfig) -> Result<(), tcpserver::Error> {
/// tcpserver::tls::enable_resumption(&mut config)?;
/// # Ok(()) }
/// ```
pub fn enable_resumption(config: &mut ServerConfig) -> Result<(), Error> {
    #[cfg(feature = "aws-lc-rs")]
    {
        config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
    }
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    {
        config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    }
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
    Ok(())
}

/// Runs the server side of a TLS handshake within `timeout`.
pub(crate) async fn handshake(
    acceptor: &TlsAcceptor,
    stream: Stream,
    timeout: Duration,
) -> Result<TlsStream, Error> {
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
