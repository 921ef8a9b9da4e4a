//! PROXY protocol v1 and v2 on a proxied listener (beside a direct one): the real client
//! address becomes the peer, the header is connection state, the bytes after the header reach
//! the handler untouched; junk and malformed headers close the connection with a typed error.
#![cfg(feature = "proxy-protocol")]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::within;
use tcpserver::proxy_protocol::{ProxyHeader, ProxyHeaderError, read_header};
use tcpserver::{Connection, Server, ServerHandle};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const V2_SIG: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// Reports the peer and header, then the first 5 bytes after the header.
async fn report(mut conn: Connection) {
    let version = conn.state::<ProxyHeader>().map_or(0, |h| h.version);
    let mut data = [0u8; 5];
    let _ = conn.read_exact(&mut data).await;
    let line = format!(
        "{} v{version} {}",
        conn.peer(),
        String::from_utf8_lossy(&data)
    );
    let _ = conn.write_all(line.as_bytes()).await;
}

fn start() -> (ServerHandle, SocketAddr, SocketAddr, Arc<AtomicUsize>) {
    let server = Server::builder("127.0.0.1:0")
        .listen_proxied("127.0.0.1:0")
        .handshake_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let direct = server.listen_addrs()[0].tcp().unwrap();
    let proxied = server.listen_addrs()[1].tcp().unwrap();
    let handled = Arc::new(AtomicUsize::new(0));
    let count = handled.clone();
    let handle = server.handle();
    tokio::spawn(server.serve(move |conn| {
        count.fetch_add(1, Ordering::SeqCst);
        report(conn)
    }));
    (handle, direct, proxied, handled)
}

/// Sends `parts` (with a flush between them), then reads everything.
async fn exchange(addr: SocketAddr, parts: &[&[u8]]) -> String {
    exchange_on(within(TcpStream::connect(addr)).await.unwrap(), parts).await
}

async fn exchange_on<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, parts: &[&[u8]]) -> String {
    for p in parts {
        s.write_all(p).await.unwrap();
        s.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    let mut out = Vec::new();
    let _ = within(s.read_to_end(&mut out)).await;
    String::from_utf8(out).unwrap()
}

fn v2(command: u8, family: u8, addrs: &[u8]) -> Vec<u8> {
    let mut h = V2_SIG.to_vec();
    h.push(0x20 | command);
    h.push(family);
    h.extend_from_slice(&(addrs.len() as u16).to_be_bytes());
    h.extend_from_slice(addrs);
    h
}

/// A v2 PROXY header for 203.0.113.9:50000 → 198.51.100.1:443, then `data`.
fn v2_ipv4_then(data: &[u8]) -> Vec<u8> {
    let mut ipv4 = vec![203, 0, 113, 9, 198, 51, 100, 1];
    ipv4.extend_from_slice(&50000u16.to_be_bytes());
    ipv4.extend_from_slice(&443u16.to_be_bytes());
    let mut h = v2(1, 0x11, &ipv4);
    h.extend_from_slice(data);
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_and_v2_headers_give_the_real_client() {
    let (handle, direct, proxied, handled) = start();
    let v1_4 = exchange(
        proxied,
        &[b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\nhello"],
    )
    .await;
    assert_eq!(v1_4, "192.0.2.7:40000 v1 hello");
    // A header that arrives in pieces, the data right behind it.
    let v1_6 = exchange(
        proxied,
        &[
            b"PROXY TCP6 2001:db8::7 2001",
            b":db8::1 40001 443\r\nworld",
        ],
    )
    .await;
    assert_eq!(v1_6, "[2001:db8::7]:40001 v1 world");
    let with_data = v2_ipv4_then(b"bytes");
    assert_eq!(
        exchange(proxied, &[&with_data]).await,
        "203.0.113.9:50000 v2 bytes"
    );
    // LOCAL (a health check from the balancer itself): the socket's peer stays.
    let mut local = v2(0, 0x00, &[]);
    local.extend_from_slice(b"check");
    assert!(exchange(proxied, &[&local]).await.starts_with("127.0.0.1:"));
    // The direct listener expects no header.
    let plain = exchange(direct, &[b"plain"]).await;
    assert!(
        plain.starts_with("127.0.0.1:") && plain.ends_with(" v0 plain"),
        "{plain}"
    );
    assert_eq!(handled.load(Ordering::SeqCst), 5);
    handle.shutdown(Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_and_malformed_headers_are_closed_before_the_handler() {
    let (handle, _direct, proxied, handled) = start();
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"PROXY TCP4 999.0.2.7 198.51.100.1 40000 443\r\nhello",
        b"PROXY TCP4 192.0.2.7 198.51.100.1 40000\r\nhello",
        &[b'P'; 200][..],
        &v2(1, 0x11, &[1, 2, 3])[..],
        b"\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x00hello",
    ] {
        assert_eq!(
            exchange(proxied, &[junk]).await,
            "",
            "closed without an answer"
        );
    }
    assert_eq!(handled.load(Ordering::SeqCst), 0, "no handler ran");
    handle.shutdown(Duration::ZERO);
}

#[tokio::test]
async fn read_header_returns_typed_errors() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    for (input, check) in [
        (
            &b"SSH-2.0-x\r\n"[..],
            (|e| matches!(e, ProxyHeaderError::Missing)) as fn(&ProxyHeaderError) -> bool,
        ),
        (b"PROXY BOGUS\r\n", |e| matches!(e, ProxyHeaderError::V1(_))),
        (&v2(1, 0x11, &[1, 2, 3]), |e| {
            matches!(e, ProxyHeaderError::V2(_))
        }),
        (b"PROXY TCP4 1.2.3.4", |e| {
            matches!(e, ProxyHeaderError::Io(_))
        }),
    ] {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(input).await.unwrap();
        c.shutdown().await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        let err = within(read_header(&mut s)).await.unwrap_err();
        assert!(check(&err), "{input:?}: {err:?}");
    }
}

/// Sends `parts` over a Unix domain socket, then reads everything.
async fn exchange_unix(path: &std::path::Path, parts: &[&[u8]]) -> String {
    let s = within(tokio::net::UnixStream::connect(path)).await.unwrap();
    exchange_on(s, parts).await
}

/// HAProxy on the same host sending PROXY v1/v2 to a Unix socket: the real client becomes the
/// peer, the balancer's credentials are the header's `proxy`; junk closes before the handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_listener_reads_v1_v2_and_closes_junk() {
    let dir = std::env::temp_dir().join(format!("tcpserver-pp-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.sock");
    let server = tcpserver::ServerBuilder::new()
        .listen_unix_proxied(&path)
        .handshake_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let handled = Arc::new(AtomicUsize::new(0));
    let count = handled.clone();
    let handle = server.handle();
    let task = tokio::spawn(server.serve(move |mut conn| {
        count.fetch_add(1, Ordering::SeqCst);
        async move {
            // The balancer is this very process, seen through SO_PEERCRED.
            let balancer = conn.state::<ProxyHeader>().map(|h| h.proxy);
            let own_pid = matches!(balancer, Some(tcpserver::PeerAddr::Unix(Some(c))) if c.pid() == Some(std::process::id() as i32));
            let mut data = [0u8; 5];
            let _ = conn.read_exact(&mut data).await;
            let version = conn.state::<ProxyHeader>().map_or(0, |h| h.version);
            let line = format!("{} v{version} {own_pid} {}", conn.peer(), String::from_utf8_lossy(&data));
            let _ = conn.write_all(line.as_bytes()).await;
        }
    }));

    assert_eq!(
        exchange_unix(
            &path,
            &[b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\nhello"]
        )
        .await,
        "192.0.2.7:40000 v1 true hello"
    );
    // In pieces, the data right behind the header.
    assert_eq!(
        exchange_unix(
            &path,
            &[
                b"PROXY TCP6 2001:db8::7 2001",
                b":db8::1 40001 443\r\nworld"
            ]
        )
        .await,
        "[2001:db8::7]:40001 v1 true world"
    );
    let with_data = v2_ipv4_then(b"bytes");
    assert_eq!(
        exchange_unix(&path, &[&with_data]).await,
        "203.0.113.9:50000 v2 true bytes"
    );
    // LOCAL (a health check): the peer stays the Unix socket's.
    let mut local = v2(0, 0x00, &[]);
    local.extend_from_slice(b"check");
    let checked = exchange_unix(&path, &[&local]).await;
    assert!(
        checked.starts_with("unix:uid=") && checked.ends_with(" v2 true check"),
        "{checked}"
    );
    assert_eq!(handled.load(Ordering::SeqCst), 4);

    for junk in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"PROXY TCP4 999.0.2.7 198.51.100.1 40000 443\r\nhello",
        &[b'P'; 200][..],
        &v2(1, 0x11, &[1, 2, 3])[..],
        b"\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x00hello",
    ] {
        assert_eq!(
            exchange_unix(&path, &[junk]).await,
            "",
            "{junk:?}: closed without an answer"
        );
    }
    assert_eq!(handled.load(Ordering::SeqCst), 4, "no handler ran for junk");
    handle.shutdown(Duration::ZERO);
    within(task).await.unwrap().unwrap();
    assert!(!path.exists(), "the socket file is removed at stop");
    let _ = std::fs::remove_dir_all(&dir);
}
