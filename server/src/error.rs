//! The library's error type.

use std::io;

/// Everything that can go wrong while building or running a server.
///
/// Accept errors that are temporary (out of file descriptors or memory) and per-connection
/// failures (a failed TLS handshake, a peer reset) never show up here: the server logs them with
/// `tracing` and goes on serving.
///
/// # Example
///
/// ```
/// use tcpserver::{Error, Server};
///
/// match Server::builder("not an address").build() {
///     Err(Error::Address { .. }) => {}
///     other => panic!("expected an address error, got {other:?}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be parsed or resolved.
    #[error("invalid listen address {addr:?}: {source}")]
    Address {
        /// The address as given.
        addr: String,
        /// Why it was refused.
        #[source]
        source: io::Error,
    },
    /// Creating, binding or listening on the socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address the server tried to bind.
        addr: std::net::SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Binding or listening on a Unix domain socket failed (also: the path is a file that is
    /// not a socket, or another process still listens on it).
    #[error("cannot listen on unix:{}: {source}", path.display())]
    BindUnix {
        /// The socket's path.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// An inherited socket (systemd socket activation, a file descriptor handed over) is not
    /// a listening TCP or Unix domain stream socket, or the environment describing it is wrong.
    #[error("cannot adopt the inherited socket: {source}")]
    Inherited {
        /// What was wrong.
        #[source]
        source: io::Error,
    },
    /// Handing the listeners over to a new process failed: it could not be started, or it
    /// exited before it was ready ([`ServerHandle::hand_over`](crate::ServerHandle::hand_over)).
    /// The server goes on serving.
    #[error("hand-over to a new process failed: {0}")]
    HandOver(#[source] io::Error),
    /// Setting a socket option failed.
    #[error("cannot set socket option {option}: {source}")]
    SocketOption {
        /// The option's name, e.g. `TCP_FASTOPEN`.
        option: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The feature is not available on this platform (e.g. `TCP_DEFER_ACCEPT` outside Linux).
    #[error("{0} is not supported on this platform")]
    Unsupported(&'static str),
    /// The CPUs of [`pin_cpus`](crate::ServerBuilder::pin_cpus) include one this process may
    /// not run on.
    #[error("cannot pin the workers: {0}")]
    Cpus(#[from] crate::CpuSetError),
    /// The builder was given an inconsistent configuration.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    /// Accepting failed with an error that is not temporary.
    #[error("accept failed: {0}")]
    Accept(#[source] io::Error),
    /// A worker runtime or thread could not be started.
    #[error("cannot start worker: {0}")]
    Runtime(#[source] io::Error),
    /// A worker thread of the per-core model panicked outside of a connection handler.
    #[error("a worker thread panicked")]
    WorkerPanicked,
    /// A TLS operation failed (bad certificate or key, failed handshake).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// No rustls crypto provider can be chosen: none is installed as the process default and
    /// neither the `aws-lc-rs` nor the `ring` feature is enabled (see
    /// [`tls::crypto_provider`](crate::tls::crypto_provider)).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error(
        "no rustls crypto provider: install a process default (CryptoProvider::install_default) \
         or enable the `aws-lc-rs` or `ring` feature of tcpserver-rs"
    )]
    NoCryptoProvider,
    /// An operation did not finish in time (e.g. a TLS handshake).
    #[error("timed out")]
    Timeout,
    /// Another I/O error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            Error::Timeout => io::Error::new(io::ErrorKind::TimedOut, e),
            other => io::Error::other(other),
        }
    }
}
