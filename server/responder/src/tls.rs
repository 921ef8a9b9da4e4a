//! The rustls server configuration of `--tls`.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::{ResponderArgs, ResponderError};

/// A TLS server configuration for `args`, with the certificate it presents.
///
/// Uses `--cert`/`--key` (PEM) when given, else a self-signed certificate for `localhost`
/// (rcgen). Session tickets and a large session cache are on, so that keep-alive-off clients
/// resume sessions instead of doing a full handshake per request. ALPN offers `http/1.1`.
///
/// ```
/// let args = tcpserver_responder::ResponderArgs { tls: true, ..Default::default() };
/// let (config, cert) = tcpserver_responder::tls_config(&args)?;
/// assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
/// assert!(!cert.is_empty());
/// # Ok::<(), tcpserver_responder::ResponderError>(())
/// ```
pub fn tls_config(
    args: &ResponderArgs,
) -> Result<(Arc<ServerConfig>, CertificateDer<'static>), ResponderError> {
    let (chain, key) = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| ResponderError::Certificate(format!("{}: {e}", cert.display())))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| ResponderError::Certificate(format!("{}: {e}", key.display())))?;
            (chain, key)
        }
        _ => {
            let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()])
                .map_err(|e| ResponderError::Certificate(e.to_string()))?;
            let key = PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
            (vec![generated.cert.der().clone()], key)
        }
    };
    let Some(leaf) = chain.first().cloned() else {
        return Err(ResponderError::Certificate(
            "no certificate in the PEM file".into(),
        ));
    };
    // Tickets and a large session cache: see `tcpserver::tls::enable_resumption`.
    let mut config = tcpserver::tls::server_config(chain, key)
        .map_err(|e| ResponderError::Certificate(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), leaf))
}
