//! `loadgen serve <tcpserver|hyper> [responder flags]`: the built-in contender servers, started by
//! the runner as child processes of the same binary.

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;

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
    /// The tcpserver responder (`tcpserver::responder::run`).
    Tcpserver,
    /// A minimal hyper 1.x server.
    Hyper,
}

/// Runs a built-in server until SIGTERM/SIGINT. It prints `listening on <addr>` once bound.
pub fn serve_main(args: ServeArgs) -> anyhow::Result<()> {
    match args.server {
        ServeKind::Tcpserver => {
            anyhow::bail!("the tcpserver responder is not available in this build yet")
        }
        ServeKind::Hyper => {
            let argv = std::iter::once(OsString::from("loadgen serve hyper")).chain(args.args);
            let parsed =
                super::hyper_server::HyperArgs::try_parse_from(argv).unwrap_or_else(|e| e.exit());
            super::hyper_server::run(parsed)
        }
    }
}

/// Prints the line runners wait for.
pub(crate) fn announce(addr: SocketAddr) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {addr}")?;
    stdout.flush()
}

/// `--keep-alive on|off`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnOff {
    On,
    Off,
}

/// The response body: static bytes, or encrypted per request.
pub(crate) struct Body {
    plain: Bytes,
    aes128: bool,
}

impl Body {
    pub(crate) fn new(payload: Option<usize>, aes128: bool) -> Body {
        let plain = match payload {
            None => Bytes::from_static(b"Hello World!\r\n"),
            Some(len) => Bytes::from(
                (0..len)
                    .map(|i| b"abcdefghijklmnopqrstuvwxyz"[i % 26])
                    .collect::<Vec<u8>>(),
            ),
        };
        Body { plain, aes128 }
    }

    /// The bytes of one response.
    pub(crate) fn render(&self) -> Bytes {
        if self.aes128 {
            Bytes::from(super::aes_body::encrypt(&self.plain))
        } else {
            self.plain.clone()
        }
    }

    pub(crate) fn content_type(&self) -> &'static str {
        if self.aes128 {
            "application/octet-stream"
        } else {
            "text/plain"
        }
    }
}

/// A rustls server config from PEM files, or with a fresh self-signed certificate for
/// `localhost`/127.0.0.1/::1. The session cache holds enough entries for 1000+ clients resuming.
pub(crate) fn tls_config(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let (chain, key): (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) = match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain = rustls_pemfile::certs(&mut std::io::BufReader::new(
                std::fs::File::open(cert).with_context(|| format!("opening {}", cert.display()))?,
            ))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("reading certificates from {}", cert.display()))?;
            let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
                std::fs::File::open(key).with_context(|| format!("opening {}", key.display()))?,
            ))
            .with_context(|| format!("reading the key from {}", key.display()))?
            .with_context(|| format!("no private key in {}", key.display()))?;
            (chain, key)
        }
        _ => {
            let generated = self_signed()?;
            (
                vec![generated.cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                    generated.signing_key.serialize_der(),
                )),
            )
        }
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("building the TLS config")?;
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(16 * 1024);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
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
