//! # tcpserver
//!
//! A fast, flexible IPv4 and IPv6 TCP server library on tokio, after the Go library
//! `maurice2k/tcpserver`: many accept loops or a thread-per-core model with `SO_REUSEPORT`,
//! TLS with rustls (also STARTTLS), graceful shutdown, zero-copy transfers (`sendfile`,
//! `splice`) and TCP tuning (`TCP_FASTOPEN`, `TCP_DEFER_ACCEPT`, `TCP_NODELAY`, backlog).
//!
//! ```no_run
//! use tcpserver::{ListenOptions, Server};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), tcpserver::Error> {
//!     let server = Server::builder("127.0.0.1:5000")
//!         .listen_options(ListenOptions::new().reuse_port(true).fast_open(256))
//!         .build()?;
//!     println!("listening on {}", server.local_addr());
//!     server
//!         .serve(|mut conn| async move {
//!             let _ = conn.echo().await;
//!         })
//!         .await
//! }
//! ```
//!
//! Two runtime models:
//! - [`Server::serve`]: *shared*, inside your multi-thread runtime; `loops` accept loops on
//!   one listener; handler futures must be `Send`.
//! - [`Server::serve_per_core`]: *per-core*, blocking; one thread per core, each with a
//!   current-thread runtime and its own `SO_REUSEPORT` listener; handler futures need not be
//!   `Send`.
//!
//! One server may listen on several TCP addresses and Unix domain socket paths, bound or
//! inherited (systemd socket activation): see [`ServerBuilder::new`]. Beyond the Go library it
//! also offers keepalive and `TCP_USER_TIMEOUT` ([`ListenOptions`]), [`Connection::proxy`]
//! (zero-copy to a dialed upstream), per-worker state ([`Server::serve_per_core_with`]), TLS
//! reload (`ServerHandle::reload_tls`, feature `tls`), a hand-over of the listeners to a new process for
//! restarts that refuse no connection ([`ServerHandle::hand_over`]) and, with feature
//! `proxy-protocol`, PROXY protocol listeners.
//!
//! Each connection runs in its own task as a [`Connection`] (`AsyncRead + AsyncWrite`). The
//! connection is closed when the handler's future ends or panics; a panic never takes the
//! server down. [`ServerHandle`] gives the counters and graceful shutdown.
//!
//! # Features
//!
//! - `tls` (default): TLS listeners (`ServerBuilder::tls`), STARTTLS
//!   (`Connection::start_tls`) and the `tls` module, with rustls. It needs a crypto provider:
//! - `aws-lc-rs` (default) or `ring`: rustls's provider of that name (each implies `tls`); see
//!   the `tls` module for how the provider is chosen (never by a panic).
//! - `http`: the sans-I/O HTTP/1.1 module `http`.
//!
//! With `default-features = false` the crate serves plain TCP without rustls, without any
//! crypto crate and without a C compiler.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

mod accept_loop;
mod address;
mod builder;
mod connection;
mod error;
mod hand_over;
mod handle;
mod host_port;
mod listener;
mod options;
mod server;
mod state;
mod stream;
mod sys;
mod systemd;
mod timeout;

#[cfg(feature = "proxy-protocol")]
pub mod proxy_protocol;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
#[cfg(not(feature = "tls"))]
#[path = "tls_disabled.rs"]
mod tls;
pub mod zero_copy;

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;

pub use address::{ListenAddr, PeerAddr, UCred};
pub use builder::{DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_LOOPS, ServerBuilder};
pub use connection::Connection;
pub use error::Error;
pub use handle::ServerHandle;
pub use host_port::split_host_port;
pub use options::ListenOptions;
pub use server::Server;
pub use sys::{CpuSet, CpuSetError};
pub use systemd::systemd_listeners;
pub use timeout::TimeoutExt;

/// The rustls version this crate is built with (for [`ServerBuilder::tls`]).
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use rustls;
/// The tokio-rustls version this crate is built with.
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use tokio_rustls;
