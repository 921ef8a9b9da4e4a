//! Command-line options of the responder (`clap` derive).

use std::path::PathBuf;

/// Options of the benchmark responder; the flags re-create the Go benchmark server's
/// (`-listen`, `-aaaa N`, `-keepalive`, `-aes128`, `-sleep`, `-loops`, `-useTls`).
///
/// ```
/// use clap::Parser;
/// use tcpserver_responder::{KeepAlive, ResponderArgs, RuntimeModel};
///
/// let args = ResponderArgs::parse_from(["responder", "--payload", "1024", "--keep-alive", "off",
///                                       "--runtime", "shared", "--pin-cpus", "0,1"]);
/// assert_eq!(args.payload, Some(1024));
/// assert_eq!(args.keep_alive, KeepAlive::Off);
/// assert_eq!(args.runtime, RuntimeModel::Shared);
/// assert_eq!(args.pin_cpus.unwrap().cpus(), [0, 1]);
/// assert_eq!(args.listen, "127.0.0.1:8080");
/// ```
#[derive(clap::Parser, Debug, Clone, PartialEq, Eq)]
#[command(
    name = "responder",
    version,
    about = "Minimal HTTP/1.1 benchmark responder on tcpserver",
    long_about = None
)]
pub struct ResponderArgs {
    /// Address to listen on (host:port; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = host_port)]
    pub listen: String,
    /// Body size in bytes ('a' * BYTES); without it the body is "Hello World!\r\n".
    #[arg(long, value_name = "BYTES", value_parser = payload_size)]
    pub payload: Option<usize>,
    /// Keep connections open between requests, or answer with `Connection: close` and close.
    #[arg(long, value_enum, default_value_t = KeepAlive::On)]
    pub keep_alive: KeepAlive,
    /// Body = fresh random IV + AES-128-CBC (PKCS#7) of the payload, computed per request.
    #[arg(long)]
    pub aes128: bool,
    /// Wait this many milliseconds per request (without blocking other connections).
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub sleep_ms: u64,
    /// Worker threads (default: available cores).
    #[arg(long, value_parser = thread_count)]
    pub threads: Option<usize>,
    /// Thread-per-core runtimes with one SO_REUSEPORT listener each, or one shared runtime.
    #[arg(long, value_enum, default_value_t = RuntimeModel::PerCore)]
    pub runtime: RuntimeModel,
    /// Run on these CPUs, e.g. 0, 0,1 or 2-3 (each CPU once): per-core workers are pinned
    /// to them in turn, the shared runtime's threads may run on any of them.
    #[arg(long, value_name = "LIST")]
    pub pin_cpus: Option<tcpserver::CpuSet>,
    /// Serve HTTPS (rustls): with --cert/--key, or a self-signed certificate for "localhost".
    #[arg(long)]
    pub tls: bool,
    /// PEM certificate chain for --tls.
    #[arg(long, value_name = "FILE", requires = "key", value_parser = readable_file)]
    pub cert: Option<PathBuf>,
    /// PEM private key for --tls.
    #[arg(long, value_name = "FILE", requires = "cert", value_parser = readable_file)]
    pub key: Option<PathBuf>,
    /// Deadline for receiving a whole request head, in milliseconds (slowloris defence); a
    /// request that is still incomplete after one to two times this gets 408 and a close.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub header_timeout_ms: u64,
    /// Close keep-alive connections idle for this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 60_000, hide = true, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub idle_timeout_ms: u64,
}

impl Default for ResponderArgs {
    fn default() -> Self {
        use clap::Parser;
        ResponderArgs::parse_from(["responder"])
    }
}

/// `--listen`: `HOST:PORT` (`[::1]:8080` for IPv6), checked before anything binds.
fn host_port(s: &str) -> Result<String, String> {
    match tcpserver::split_host_port(s) {
        Some(_) => Ok(s.to_string()),
        None => Err("expected HOST:PORT, e.g. 127.0.0.1:8080".into()),
    }
}

/// `--payload`: at most 1 GiB (it is allocated once per worker).
fn payload_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n <= 1 << 30 => Ok(n),
        _ => Err("expected a byte count from 0 to 1073741824".into()),
    }
}

/// `--threads`: 1 to 1024.
fn thread_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err("expected a thread count from 1 to 1024".into()),
    }
}

/// `--cert`/`--key`: a file that can be opened now.
fn readable_file(s: &str) -> Result<PathBuf, String> {
    std::fs::File::open(s)
        .map(|_| PathBuf::from(s))
        .map_err(|e| format!("cannot read it: {e}"))
}

/// `--keep-alive on|off`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlive {
    /// Keep connections open (HTTP/1.1 default).
    On,
    /// Answer with `Connection: close` and close after each response.
    Off,
}

/// `--runtime per-core|shared`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeModel {
    /// One current-thread runtime and SO_REUSEPORT listener per worker thread.
    PerCore,
    /// One multi-thread runtime; accept loops share one listener.
    Shared,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        ResponderArgs::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let args = ResponderArgs::default();
        assert_eq!(args.keep_alive, KeepAlive::On);
        assert_eq!(args.runtime, RuntimeModel::PerCore);
        assert!(!args.tls && !args.aes128 && args.pin_cpus.is_none());
        assert_eq!((args.sleep_ms, args.header_timeout_ms), (0, 10_000));
    }
}
