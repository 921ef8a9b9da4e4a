//! The benchmark HTTP/1.1 responder: `responder --payload 1024 --keep-alive off ...`.
//!
//! Prints `listening on <addr>` once bound and runs until SIGINT or SIGTERM.

use anyhow::Context;
use clap::Parser;
use tcpserver_responder::{ResponderArgs, run};

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = ResponderArgs::parse();
    let listen = args.listen.clone();
    run(args).with_context(|| format!("responder on {listen}"))
}
