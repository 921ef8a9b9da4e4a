//! TLS: every connection, STARTTLS upgrade, handshake timeout, failed handshakes isolated,
//! session resumption with tickets.

mod support;

use std::time::Duration;

use support::{
    Cert, client_tls, eventually, handshake_kind, server_tls, spawn_per_core, spawn_shared,
    tls_connect, within,
};
use tcpserver::rustls::HandshakeKind;
use tcpserver::tokio_rustls::TlsConnector;
use tcpserver::{Connection, Server};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn echo(mut conn: Connection) {
    let _ = conn.echo().await;
    let _ = conn.shutdown().await;
}

async fn roundtrip(addr: std::net::SocketAddr, cert: &Cert, payload: &[u8]) {
    let client = client_tls(cert);
    let mut s = within(tls_connect(addr, &client)).await.unwrap();
    s.write_all(payload).await.unwrap();
    s.shutdown().await.unwrap();
    let mut out = Vec::new();
    within(s.read_to_end(&mut out)).await.unwrap();
    assert!(out == payload, "TLS echo is byte-exact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_echo_both_models() {
    let cert = support::cert();
    let payload = support::pattern(300_000);

    let server = support::tls_server(&cert);
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, echo);
    roundtrip(addr, &cert, &payload).await;
    support::stop_shared(&handle, task).await;

    let server = support::reuseport_server(2)
        .tls(server_tls(&cert))
        .build()
        .unwrap();
    let addr = server.local_addr();
    let (handle, thread) = spawn_per_core(server, echo);
    roundtrip(addr, &cert, &payload).await;
    support::stop_per_core(&handle, thread).await;
}

/// A line protocol with a STARTTLS command: plain first, then TLS on the same connection,
/// keeping the connection's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_upgrades_in_place() {
    let cert = support::cert();
    let config = server_tls(&cert);
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, move |mut conn: Connection| {
        let config = config.clone();
        async move {
            conn.insert_state(42u32);
            // Read the command byte by byte so nothing after it is consumed.
            let mut line = Vec::new();
            let mut b = [0u8; 1];
            while conn.read_exact(&mut b).await.is_ok() && b[0] != b'\n' {
                line.push(b[0]);
            }
            assert_eq!(line, b"STARTTLS");
            conn.write_all(b"220 go ahead\n").await.unwrap();
            let mut conn = conn.start_tls(config).await.unwrap();
            assert!(conn.is_tls());
            assert!(conn.tcp_stream().is_none());
            let state = *conn.state::<u32>().unwrap();
            conn.write_all(format!("secret {state}\n").as_bytes())
                .await
                .unwrap();
            conn.shutdown().await.unwrap();
        }
    });
    let tcp = within(TcpStream::connect(addr)).await.unwrap();
    let mut plain = BufReader::new(tcp);
    plain.get_mut().write_all(b"STARTTLS\n").await.unwrap();
    let mut reply = String::new();
    within(plain.read_line(&mut reply)).await.unwrap();
    assert_eq!(reply, "220 go ahead\n");
    let tcp = plain.into_inner();
    let connector = TlsConnector::from(client_tls(&cert));
    let name = tcpserver::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = within(connector.connect(name, tcp)).await.unwrap();
    let mut out = String::new();
    within(tls.read_to_string(&mut out)).await.unwrap();
    assert_eq!(out, "secret 42\n");
    support::stop_shared(&handle, task).await;
}

/// A client that connects and never speaks is closed after the handshake timeout; the handler
/// never runs for it and the counters go back to zero. The timeout runs on tokio's paused clock
/// (paused once the client is connected): 300 ms pass at once, and exactly.
#[tokio::test]
async fn handshake_timeout_closes_silent_clients() {
    let cert = support::cert();
    let server = Server::builder("127.0.0.1:0")
        .tls(server_tls(&cert))
        .handshake_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, |_conn| async {
        panic!("the handler must not run without a handshake");
    });
    let mut silent = within(TcpStream::connect(addr)).await.unwrap();
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    // The connection is accepted (the kernel has queued it), then closed by the timeout.
    eventually(|| handle.accepted_connections() == 1 && handle.active_connections() == 0).await;
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(250)..Duration::from_millis(320)).contains(&waited),
        "closed {waited:?} into a 300 ms handshake timeout"
    );
    // Back to the real clock for the socket: the close reaches it through the kernel.
    tokio::time::resume();
    let mut buf = Vec::new();
    // The server closed the connection: EOF (or a reset).
    let _ = within(silent.read_to_end(&mut buf)).await;
    assert!(buf.is_empty());
    support::stop_shared(&handle, task).await;
}

/// A client that sends garbage fails its handshake; only its connection is closed while a
/// good TLS connection opened before goes on working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handshake_closes_only_that_connection() {
    let cert = support::cert();
    let server = support::tls_server(&cert);
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, echo);
    let client = client_tls(&cert);
    let mut good = within(tls_connect(addr, &client)).await.unwrap();
    good.write_all(b"before").await.unwrap();
    let mut buf = [0u8; 6];
    within(good.read_exact(&mut buf)).await.unwrap();

    for garbage in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &[0x16, 0x03, 0x01, 0xff, 0xff, 0, 0][..],
    ] {
        let mut bad = within(TcpStream::connect(addr)).await.unwrap();
        bad.write_all(garbage).await.unwrap();
        let mut out = Vec::new();
        let _ = within(bad.read_to_end(&mut out)).await;
    }
    // A client that does not trust the server's certificate fails too.
    let other = client_tls(&support::cert());
    assert!(within(tls_connect(addr, &other)).await.is_err());

    good.write_all(b"after!").await.unwrap();
    within(good.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"after!");
    drop(good);
    eventually(|| handle.active_connections() == 0).await;
    assert_eq!(handle.accepted_connections(), 4);
    support::stop_shared(&handle, task).await;
}

/// A client reconnecting with the same `ClientConfig` resumes its session (TLS 1.3 tickets from
/// `tls::server_config`), seen on both sides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_resume() {
    let cert = support::cert();
    let server = support::tls_server(&cert);
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, |mut conn: Connection| async move {
        let kind = conn.tls_session().and_then(|t| t.handshake_kind());
        let _ = conn.write_all(format!("{kind:?}").as_bytes()).await;
        let _ = conn.shutdown().await;
    });
    let client = client_tls(&cert);
    let mut kinds = Vec::new();
    for _ in 0..4 {
        let mut s = within(tls_connect(addr, &client)).await.unwrap();
        let mut server_view = String::new();
        // Reading to the end also takes in the tickets the server sent after the handshake.
        within(s.read_to_string(&mut server_view)).await.unwrap();
        kinds.push((handshake_kind(&s), server_view));
    }
    assert_eq!(
        kinds[0],
        (Some(HandshakeKind::Full), "Some(Full)".to_string())
    );
    for k in &kinds[1..] {
        assert_eq!(
            k,
            &(Some(HandshakeKind::Resumed), "Some(Resumed)".to_string())
        );
    }
    support::stop_shared(&handle, task).await;
}
