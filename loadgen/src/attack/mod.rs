//! The load engine: thread-per-core HTTP/1.1 (optionally pipelined) and HTTP/2 clients recording
//! HDR latency histograms.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::report::Report;

mod conn;
mod engine;
mod http2;
mod pipeline;
pub mod response;
mod stats;
mod target;
mod tls;

/// What to run. Mirrors the command line; `Default` gives bombardier's defaults
/// (125 connections, 2 s timeout, GET, keep-alive on, threads = available cores).
#[derive(Debug, Clone)]
pub struct AttackConfig {
    /// Target URL (`http://` or `https://`).
    pub url: String,
    /// Number of concurrent connections, spread over the threads.
    pub connections: usize,
    /// Run for this long (timed test). When neither this nor `requests` is set: 10 s.
    pub duration: Option<Duration>,
    /// Send exactly this many requests.
    pub requests: Option<u64>,
    /// Open-loop rate in requests per second over all connections.
    pub rate: Option<f64>,
    /// Per-request timeout (connect + send + full response).
    pub timeout: Duration,
    /// HTTP method.
    pub method: String,
    /// Extra request headers (a `Host` header here replaces the default one).
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Vec<u8>,
    /// Reuse connections; when false every request uses a new connection with `Connection: close`.
    pub keep_alive: bool,
    /// TLS: skip certificate verification.
    pub insecure: bool,
    /// TLS client certificate and key (PEM files).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Client threads (0 = available cores).
    pub threads: usize,
    /// Pin client thread i to `cpus[i % len]`.
    pub cpus: Option<Vec<usize>>,
    /// Show a progress bar on stderr (only if stderr is a terminal).
    pub progress: bool,
    /// Wait until this wall-clock time before starting (to start several processes together).
    pub start_at: Option<SystemTime>,
    /// Run this long before measuring; warmup requests are not recorded.
    pub warmup: Duration,
    /// Send the body with `Transfer-Encoding: chunked` (bombardier's `-s`).
    pub stream: bool,
    /// Connect to this `HOST:PORT` instead of the URL's host; the `Host` header and the TLS
    /// server name still come from the URL.
    pub connect_to: Option<String>,
    /// Connect to this Unix socket instead (plain `http://` only); the URL gives the `Host`
    /// header and the path.
    pub unix_socket: Option<PathBuf>,
    /// Speak HTTP/2: over TLS (ALPN `h2`) for `https://`, with prior knowledge for `http://`.
    pub http2: bool,
    /// Speak HTTP/2 over cleartext with prior knowledge (h2c); needs an `http://` URL.
    pub h2c: bool,
    /// HTTP/2: concurrent streams per connection (at least 1).
    pub streams: u32,
    /// HTTP/1.1: requests in flight per connection (1 = no pipelining).
    pub pipeline: u32,
}

impl Default for AttackConfig {
    fn default() -> Self {
        AttackConfig {
            url: String::new(),
            connections: 125,
            duration: None,
            requests: None,
            rate: None,
            timeout: Duration::from_secs(2),
            method: "GET".into(),
            headers: Vec::new(),
            body: Vec::new(),
            keep_alive: true,
            insecure: false,
            client_cert: None,
            threads: 0,
            cpus: None,
            progress: false,
            start_at: None,
            warmup: Duration::ZERO,
            stream: false,
            connect_to: None,
            unix_socket: None,
            http2: false,
            h2c: false,
            streams: 1,
            pipeline: 1,
        }
    }
}

/// Why a run could not be done at all (per-request failures are counted in the report instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttackError {
    /// The URL could not be parsed or uses an unsupported scheme.
    #[error("invalid URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// Host and port.
        host: String,
        /// Resolver error.
        source: std::io::Error,
    },
    /// The target refused or did not answer the first connection.
    #[error("cannot connect to {addr}: {reason}")]
    Unreachable {
        /// The address tried.
        addr: String,
        /// Why.
        reason: String,
    },
    /// Invalid configuration (zero connections, bad header, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// TLS setup failed (bad client certificate, ...).
    #[error("TLS setup: {0}")]
    Tls(String),
    /// An OS resource could not be set up (threads, runtime, file descriptors).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Checks what can be checked without the network: the protocol options, the URL, the method,
/// the headers and the request they make, and that this process may run on the `cpus`. [`run`]
/// checks the same first; a command line calls this before printing
/// anything.
///
/// ```
/// use loadgen::attack::{check, AttackConfig};
/// let cfg = AttackConfig { url: "ftp://x/".into(), ..Default::default() };
/// assert!(check(&cfg).is_err());
/// assert!(check(&AttackConfig { url: "HTTP://127.0.0.1/".into(), ..cfg }).is_ok());
/// ```
pub fn check(cfg: &AttackConfig) -> Result<(), AttackError> {
    engine::check_protocol(cfg)?;
    let t = target::Target::parse(&cfg.url)?;
    target::build_request(
        &t,
        &cfg.method,
        &cfg.headers,
        &cfg.body,
        cfg.keep_alive,
        cfg.stream,
    )?;
    if let Some(dial) = &cfg.connect_to {
        target::Target::parse(dial)?;
    }
    if cfg.unix_socket.is_some() && (t.tls || cfg.connect_to.is_some()) {
        return Err(AttackError::Config(
            "a Unix socket carries plain http:// only, without --connect-to".into(),
        ));
    }
    check_cpus(cfg)
}

/// The client CPUs must be ones this process may run on (a CPU the kernel would leave out of
/// the mask is an error, not a warning per thread).
fn check_cpus(cfg: &AttackConfig) -> Result<(), AttackError> {
    match &cfg.cpus {
        Some(cpus) => crate::sys::allowed_set(cpus)
            .map(drop)
            .map_err(|e| AttackError::Config(format!("--cpus: {e}"))),
        None => Ok(()),
    }
}

/// Runs the load test described by `cfg` and returns its report. Blocking.
///
/// ```no_run
/// use loadgen::attack::{run, AttackConfig};
/// let cfg = AttackConfig { url: "http://127.0.0.1:8080/".into(), connections: 10,
///                          duration: Some(std::time::Duration::from_secs(1)), ..Default::default() };
/// let report = run(&cfg)?;
/// println!("{} req/s", report.result.rps.mean);
/// # Ok::<(), loadgen::attack::AttackError>(())
/// ```
pub fn run(cfg: &AttackConfig) -> Result<Report, AttackError> {
    check_cpus(cfg)?;
    engine::run(cfg)
}
