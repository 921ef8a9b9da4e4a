//! `loadgen serve <tcpserver|hyper> [responder flags]`: the built-in contender servers, started by
//! the runner as child processes of the same binary.

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use tcpserver_responder::ResponderArgs;

/// Arguments of the hidden `serve` subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Which server to run.
    #[arg(value_enum)]
    pub server: ServeKind,
    /// The responder's flags (`--listen`, `--payload`, `--keep-alive on|off`, `--aes128`,
    /// `--sleep-ms`, `--threads`, `--runtime per-core|shared`, `--pin-cpus`, `--tls`, `--cert`, `--key`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

/// The built-in servers.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeKind {
    /// The tcpserver responder (`tcpserver_responder::run`).
    Tcpserver,
    /// A minimal hyper 1.x server.
    Hyper,
}

/// Runs a built-in server until SIGTERM/SIGINT. It prints `listening on <addr>` once bound.
pub fn serve_main(args: ServeArgs) -> anyhow::Result<()> {
    let name = match args.server {
        ServeKind::Tcpserver => "loadgen serve tcpserver",
        ServeKind::Hyper => "loadgen serve hyper",
    };
    let argv = std::iter::once(OsString::from(name)).chain(args.args);
    let parsed = ResponderArgs::try_parse_from(argv).unwrap_or_else(|e| e.exit());
    match args.server {
        ServeKind::Tcpserver => tcpserver_responder::run(parsed).context("tcpserver responder"),
        ServeKind::Hyper => super::hyper_server::run(parsed),
    }
}

/// Prints the line runners wait for.
pub(crate) fn announce(addr: SocketAddr) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {addr}")?;
    stdout.flush()
}

/// A self-signed certificate for `localhost`, 127.0.0.1 and ::1.
pub(crate) fn self_signed() -> anyhow::Result<rcgen::CertifiedKey<rcgen::KeyPair>> {
    rcgen::generate_simple_self_signed(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .context("generating a self-signed certificate")
}
