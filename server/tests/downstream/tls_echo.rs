//! The TLS round trip shared by the downstream checks (b1) and (b2): a TLS echo server on the
//! library (configuration from `tcpserver::tls::server_config`), and a rustls client that does a
//! full handshake and one echo.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Bound for anything the check waits on (a loaded 2-core machine).
const PATIENCE: Duration = Duration::from_secs(60);

/// A self-signed certificate for "localhost".
pub struct SelfSigned {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

pub fn self_signed() -> Result<SelfSigned, Box<dyn Error>> {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    Ok(SelfSigned {
        cert: generated.cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            generated.signing_key.serialize_der(),
        )),
    })
}

impl SelfSigned {
    /// The library's server configuration for this certificate.
    pub fn server_config(&self) -> Result<ServerConfig, tcpserver::Error> {
        tcpserver::tls::server_config(vec![self.cert.clone()], self.key.clone_key())
    }

    /// Roots that trust only this certificate, for the client.
    pub fn roots(&self) -> Result<RootCertStore, Box<dyn Error>> {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone())?;
        Ok(roots)
    }
}

/// Serves a TLS echo with `server` on 127.0.0.1:0, connects with `client` (full handshake),
/// checks that one message comes back unchanged, and shuts the server down.
pub async fn echo_round_trip(
    server: ServerConfig,
    client: ClientConfig,
) -> Result<(), Box<dyn Error>> {
    let server = tcpserver::Server::builder("127.0.0.1:0")
        .tls(Arc::new(server))
        .build()?;
    let addr = server.local_addr();
    let handle = server.handle();
    let serving = tokio::spawn(server.serve(|mut conn| async move {
        let _ = conn.echo().await;
        let _ = conn.shutdown().await; // close_notify, so the client sees a clean end
    }));

    let round_trip = async {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost")?;
        let mut tls = TlsConnector::from(Arc::new(client))
            .connect(name, tcp)
            .await?;
        tls.write_all(b"hello over tls\n").await?;
        tls.shutdown().await?;
        let mut echoed = Vec::new();
        tls.read_to_end(&mut echoed).await?;
        Ok::<_, Box<dyn Error>>(echoed)
    };
    let echoed = tokio::time::timeout(PATIENCE, round_trip).await??;
    if echoed != b"hello over tls\n" {
        return Err(format!("the TLS server echoed {echoed:?}").into());
    }

    handle.shutdown(Duration::from_secs(10));
    tokio::time::timeout(PATIENCE, serving).await???;
    Ok(())
}
