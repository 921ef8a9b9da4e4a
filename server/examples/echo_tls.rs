//! The echo server over TLS, with a self-signed certificate for "localhost" made by rcgen at
//! start-up and session resumption (tickets) on.
//!
//! ```text
//! cargo run --example echo_tls -- --addr 127.0.0.1:5443
//! openssl s_client -connect 127.0.0.1:5443 -servername localhost
//! ```
//! `--cert-out FILE` writes the certificate (PEM) so a client can trust it.

mod common;

use std::sync::Arc;

use tcpserver::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

fn main() -> anyhow::Result<()> {
    common::init_tracing();
    // Our own flag first, the common ones after.
    let mut raw: Vec<String> = std::env::args().collect();
    let cert_out = match raw.iter().position(|a| a == "--cert-out") {
        Some(i) if i + 1 < raw.len() => {
            let path = raw.remove(i + 1);
            raw.remove(i);
            Some(path)
        }
        _ => None,
    };
    let args = common::Args::parse_from(raw.into_iter().skip(1))?;

    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    if let Some(path) = cert_out {
        std::fs::write(path, generated.cert.pem())?;
    }
    let chain = vec![CertificateDer::from(generated.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let config = tcpserver::tls::server_config(chain, key)?;

    let server = args.builder().tls(Arc::new(config)).build()?;
    common::announce(server.local_addr());
    let handler = |mut conn: tcpserver::Connection| async move {
        // Under TLS `echo` copies through rustls (no splice possible).
        if let Err(e) = conn.echo().await {
            tracing::debug!(error = %e, "echo ended");
        }
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut conn).await;
    };
    if args.per_core {
        server.serve_per_core(handler)?;
    } else {
        tokio::runtime::Runtime::new()?.block_on(server.serve(handler))?;
    }
    Ok(())
}
