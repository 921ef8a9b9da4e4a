//! Command-line handling shared by the examples (kept tiny: no CLI crate).
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;

/// `--addr HOST:PORT` (default `127.0.0.1:5000`), `--max-accept N` (serve N connections, then
/// exit; used by the tests), `--per-core` (thread-per-core model).
pub struct Args {
    pub addr: String,
    pub max_accept: Option<u64>,
    pub per_core: bool,
}

impl Args {
    pub fn parse() -> anyhow::Result<Args> {
        Self::parse_from(std::env::args().skip(1))
    }

    pub fn parse_from(mut it: impl Iterator<Item = String>) -> anyhow::Result<Args> {
        let mut args = Args {
            addr: "127.0.0.1:5000".into(),
            max_accept: None,
            per_core: false,
        };
        while let Some(a) = it.next() {
            match a.as_str() {
                "--addr" => {
                    args.addr = it
                        .next()
                        .ok_or_else(|| anyhow::anyhow!("--addr needs a value"))?
                }
                "--max-accept" => {
                    let v = it
                        .next()
                        .ok_or_else(|| anyhow::anyhow!("--max-accept needs a value"))?;
                    args.max_accept = Some(v.parse()?);
                }
                "--per-core" => args.per_core = true,
                other => anyhow::bail!(
                    "unknown argument {other:?}; use --addr HOST:PORT, --max-accept N, --per-core"
                ),
            }
        }
        Ok(args)
    }

    /// A builder on `--addr` with `--max-accept` applied.
    pub fn builder(&self) -> tcpserver::ServerBuilder {
        let b = tcpserver::Server::builder(self.addr.as_str())
            .listen_options(tcpserver::ListenOptions::new().reuse_port(true));
        match self.max_accept {
            Some(n) => b.max_accept(n),
            None => b,
        }
    }
}

/// Logs to stderr (`RUST_LOG=debug` for more).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
}

/// Prints the line scripts and tests wait for.
pub fn announce(addr: SocketAddr) {
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
}
