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
    let args = match ResponderArgs::try_parse() {
        Ok(args) => args,
        Err(e) if e.use_stderr() => {
            // One line, not clap's usage block.
            let msg = e.to_string();
            let line = msg.lines().next().unwrap_or("invalid arguments");
            let line: String = line
                .trim_start_matches("error: ")
                .chars()
                .take(400)
                .collect();
            eprintln!("responder: {line} (see responder --help)");
            std::process::exit(2);
        }
        Err(e) => e.exit(),
    };
    let listen = args.listen.clone();
    run(args).with_context(|| format!("responder on {listen}"))
}
