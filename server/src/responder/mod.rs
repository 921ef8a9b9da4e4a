//! The HTTP/1.1 benchmark responder on [`tcpserver`](crate): answers every request with
//! `200 OK` and a fixed (or AES-encrypted) body, as fast as the machine allows.
//!
//! Behind the `responder` feature, so users of the library alone do not compile clap, aes or
//! rcgen. The `responder` binary is [`ResponderArgs`] + [`run`]; tests and the load generator
//! start it in-process with [`Responder::start`].
//!
//! Per connection it reads into a reusable buffer, parses every complete pipelined request with
//! [`tcpserver::http`](crate::http), appends all responses to one output buffer and writes it
//! with one write, in order. See the `connection` module for the cost model.

mod args;
mod body;
mod buffers;
mod connection;
mod reply;
mod serve;
mod tls;

pub use args::{KeepAlive, ResponderArgs, RuntimeModel};
pub use body::{AES128_KEY, DEFAULT_PAYLOAD, aes128_body, aes128_body_len, payload};
pub use serve::{Responder, run};
pub use tls::tls_config;

/// Errors of the responder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResponderError {
    /// The certificate or key could not be loaded or generated.
    #[error("TLS certificate: {0}")]
    Certificate(String),
    /// Invalid option values.
    #[error("invalid options: {0}")]
    Options(String),
    /// The server could not be built or failed while serving.
    #[error(transparent)]
    Server(#[from] crate::Error),
    /// An I/O error outside the server (runtime or signal setup).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
