//! The HTTP/1.1 benchmark responder on [`tcpserver`]: answers every request with
//! `200 OK` and a fixed (or AES-encrypted) body, as fast as the machine allows.
//!
//! A crate of its own (`tcpserver-responder`, not published), so users of the library alone do
//! not compile clap, aes or rcgen. The `responder` binary is [`ResponderArgs`] + [`run`]; tests and the load generator
//! start it in-process with [`Responder::start`].
//!
//! ```text
//! cargo run --release -p tcpserver-responder --bin responder -- \
//!     --listen 127.0.0.1:8080 --payload 1024 --keep-alive on --threads 1 --pin-cpus 0
//! ```
//!
//! # Cost per request
//!
//! Per batch of pipelined requests a connection does exactly one read and one write: it parses
//! every complete request in the buffer with [`tcpserver::http`], appends all
//! replies to one output buffer (the reply head is pre-encoded; only the cached `Date` and the
//! body are added) and writes it at once, in order. tokio clears read readiness after a short
//! read, so no read ends in EAGAIN; `TCP_DEFER_ACCEPT` makes the first read of a new connection
//! succeed too. Buffers come from per-thread pools and are held only while a batch is worked on,
//! so idle keep-alive connections cost no buffer memory and hot buffers stay in cache. The
//! header-read timeout is one timer per connection, re-armed lazily (once per timeout period,
//! not per request); nothing else allocates, locks or arms timers per request unless
//! `--sleep-ms` asks for a sleep.
//!
//! # Example
//!
//! ```no_run
//! use clap::Parser;
//! use tcpserver_responder::{Responder, ResponderArgs};
//!
//! let args = ResponderArgs::parse_from(["responder", "--listen", "127.0.0.1:0", "--payload", "1024"]);
//! let responder = Responder::start(args)?;
//! let addr = responder.local_addr(); // connect clients here
//! # let _ = addr;
//! responder.handle().shutdown(std::time::Duration::from_secs(1));
//! responder.wait()?;
//! # Ok::<(), tcpserver_responder::ResponderError>(())
//! ```

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
    /// `--pin-cpus` names a CPU this process may not run on, or pinning failed.
    #[error("--pin-cpus: {0}")]
    Cpus(#[from] tcpserver::CpuSetError),
    /// The server could not be built or failed while serving.
    #[error(transparent)]
    Server(#[from] tcpserver::Error),
    /// An I/O error outside the server (runtime or signal setup).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
