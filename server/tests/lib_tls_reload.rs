//! Reloading the TLS configuration of a running server: new handshakes use the new
//! certificate, an established connection keeps its session, and a server without TLS refuses.

mod support;

use std::time::Duration;

use support::{cert, client_tls, server_tls, tls_connect, tls_server, within};
use tcpserver::{Error, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The certificate the server presented on this client connection.
fn presented<T>(s: &tcpserver::tokio_rustls::client::TlsStream<T>) -> Vec<u8> {
    s.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_handshakes_use_the_new_certificate_old_connections_keep_theirs() {
    let (old, new) = (cert(), cert());
    let server = tls_server(&old);
    let addr = server.local_addr();
    let handle = server.handle();
    let task = tokio::spawn(server.serve(|mut conn| async move {
        let _ = conn.echo().await;
    }));
    let (trust_old, trust_new) = (client_tls(&old), client_tls(&new));

    let mut before = within(tls_connect(addr, &trust_old)).await.unwrap();
    assert_eq!(presented(&before), old.der.to_vec());
    assert!(within(tls_connect(addr, &trust_new)).await.is_err());

    handle.reload_tls(server_tls(&new)).unwrap();

    let mut after = within(tls_connect(addr, &trust_new)).await.unwrap();
    assert_eq!(presented(&after), new.der.to_vec());
    assert!(
        within(tls_connect(addr, &trust_old)).await.is_err(),
        "the old certificate is no longer offered"
    );
    // Both connections work: the one made before the reload kept its session.
    for s in [&mut before, &mut after] {
        s.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        within(s.read_exact(&mut buf)).await.unwrap();
        assert_eq!(&buf, b"ping");
    }
    drop((before, after));
    handle.shutdown(Duration::ZERO);
    within(task).await.unwrap().unwrap();
}

#[test]
fn a_plain_server_refuses_a_tls_reload() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let c = cert();
    assert!(matches!(
        server.handle().reload_tls(server_tls(&c)),
        Err(Error::Config(_))
    ));
}
