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
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    let mut s = within(TcpStream::connect(addr)).await.unwrap();
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
    let mut ipv4 = vec![203, 0, 113, 9, 198, 51, 100, 1];
    ipv4.extend_from_slice(&50000u16.to_be_bytes());
    ipv4.extend_from_slice(&443u16.to_be_bytes());
    let mut with_data = v2(1, 0x11, &ipv4);
    with_data.extend_from_slice(b"bytes");
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
