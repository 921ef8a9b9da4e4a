//! The responder over TLS with a rustls client that trusts the responder's certificate:
//! keep-alive on and off, and session resumption for keep-alive-off runs.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::{ClientConfig, HandshakeKind};
use support::{
    PATIENCE, client_trusting, handshake_kind, parse_response, runtime, start, tls_connect, within,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::client::TlsStream;

async fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> TlsStream<TcpStream> {
    within(tls_connect(addr, config)).await.expect("handshake")
}

/// Sends one GET and reads one response (and, if `until_close`, the close).
async fn get(stream: &mut TlsStream<TcpStream>, until_close: bool) -> support::Response {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0; 8192];
    let response = loop {
        if let Some((r, n)) = parse_response(&buf, false).expect("a valid response") {
            assert_eq!((r.version, n), (1, buf.len()), "one HTTP/1.1 response");
            break r;
        }
        let k = timeout(PATIENCE, stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(k > 0, "closed early");
        buf.extend_from_slice(&chunk[..k]);
    };
    if until_close {
        // A close_notify (clean EOF) follows.
        let k = timeout(PATIENCE, stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(k, 0);
    }
    response
}

#[test]
fn tls_keep_alive() {
    let server = start(&["--tls", "--payload", "1024"]);
    let config = client_trusting(server.certificate());
    runtime().block_on(async {
        let mut stream = connect(server.addr, &config).await;
        assert_eq!(stream.get_ref().1.alpn_protocol(), None);
        for _ in 0..3 {
            let r = get(&mut stream, false).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.body, vec![b'a'; 1024]);
            assert_eq!(r.header("connection"), Some("keep-alive"));
        }
    });
}

#[test]
fn tls_keep_alive_off_resumes_sessions() {
    let server = start(&["--tls", "--payload", "1024", "--keep-alive", "off"]);
    let config = client_trusting(server.certificate());
    runtime().block_on(async {
        let mut kinds = Vec::new();
        for _ in 0..3 {
            let mut stream = connect(server.addr, &config).await;
            let r = get(&mut stream, true).await;
            assert_eq!(r.header("connection"), Some("close"));
            assert_eq!(r.body.len(), 1024);
            kinds.push(handshake_kind(&stream));
        }
        assert_eq!(kinds[0], Some(HandshakeKind::Full));
        assert_eq!(kinds[2], Some(HandshakeKind::Resumed), "{kinds:?}");
    });
}

#[test]
fn tls_with_certificate_files() {
    let dir = std::env::temp_dir().join(format!("responder-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, generated.cert.pem()).unwrap();
    std::fs::write(&key_path, generated.signing_key.serialize_pem()).unwrap();
    let server = start(&[
        "--tls",
        "--cert",
        cert_path.to_str().unwrap(),
        "--key",
        key_path.to_str().unwrap(),
    ]);
    let config = client_trusting(generated.cert.der().clone());
    runtime().block_on(async {
        let mut stream = connect(server.addr, &config).await;
        assert_eq!(get(&mut stream, false).await.body, b"Hello World!\r\n");
    });
    let _ = std::fs::remove_dir_all(&dir);
}
