//! One shared rustls `ClientConfig` per run (so sessions resume), with an optional
//! no-verification mode (`-k`) and client certificate.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::AttackError;

pub(crate) fn client_config(
    insecure: bool,
    client_cert: Option<(&Path, &Path)>,
    sessions: usize,
    alpn: &[u8],
) -> Result<Arc<ClientConfig>, AttackError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| AttackError::Tls(e.to_string()))?;
    let builder = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        builder.with_root_certificates(system_roots())
    };
    let mut config = match client_cert {
        Some((cert, key)) => {
            let certs = read_certs(cert)?;
            let key = read_key(key)?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| AttackError::Tls(format!("client certificate: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![alpn.to_vec()];
    config.resumption = rustls::client::Resumption::in_memory_sessions(sessions.max(256));
    Ok(Arc::new(config))
}

/// The system's CA bundle (Debian path); empty if none, so only `-k` works then.
fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for path in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ] {
        if let Ok(certs) = read_certs(Path::new(path)) {
            roots.add_parsable_certificates(certs);
            break;
        }
    }
    roots
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, AttackError> {
    let data = std::fs::read(path)
        .map_err(|e| AttackError::Tls(format!("cannot read {}: {e}", path.display())))?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut data.as_slice()).collect();
    let certs = certs.map_err(|e| AttackError::Tls(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(AttackError::Tls(format!(
            "no certificate in {}",
            path.display()
        )));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, AttackError> {
    let data = std::fs::read(path)
        .map_err(|e| AttackError::Tls(format!("cannot read {}: {e}", path.display())))?;
    rustls_pemfile::private_key(&mut data.as_slice())
        .map_err(|e| AttackError::Tls(format!("{}: {e}", path.display())))?
        .ok_or_else(|| AttackError::Tls(format!("no private key in {}", path.display())))
}

pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, AttackError> {
    ServerName::try_from(host.to_string())
        .map_err(|e| AttackError::Tls(format!("server name {host:?}: {e}")))
}

/// `-k`: accepts any certificate but still checks handshake signatures.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
