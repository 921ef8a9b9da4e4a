//! TLS helpers of the library's integration tests (feature `tls`), also included by the
//! responder's test support.

use std::net::SocketAddr;
use std::sync::Arc;

use tcpserver::Server;
use tcpserver::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tcpserver::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tcpserver::tokio_rustls::{TlsConnector, client::TlsStream};
use tokio::net::TcpStream;

/// A self-signed certificate for "localhost" and its key.
pub struct Cert {
    pub der: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

pub fn cert() -> Cert {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen");
    Cert {
        der: c.cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.signing_key.serialize_der())),
    }
}

/// Server config with resumption (tickets) via the library's helper.
pub fn server_tls(cert: &Cert) -> Arc<ServerConfig> {
    Arc::new(tcpserver::tls::server_config(vec![cert.der.clone()], cert.key.clone_key()).unwrap())
}

/// Client config trusting `cert`; reuse the same `Arc` to resume sessions.
pub fn client_tls(cert: &Cert) -> Arc<ClientConfig> {
    client_trusting(cert.der.clone())
}

/// Client config trusting the certificate `der` (e.g. one a server generated).
pub fn client_trusting(der: CertificateDer<'static>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(der).unwrap();
    Arc::new(
        ClientConfig::builder_with_provider(tcpserver::tls::crypto_provider().unwrap())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

pub async fn tls_connect(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(config.clone())
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

pub fn handshake_kind<T>(s: &TlsStream<T>) -> Option<rustls::HandshakeKind> {
    s.get_ref().1.handshake_kind()
}

/// A TLS server on 127.0.0.1:0 for `cert`, with resumption.
pub fn tls_server(cert: &Cert) -> Server {
    Server::builder("127.0.0.1:0")
        .tls(server_tls(cert))
        .build()
        .unwrap()
}
