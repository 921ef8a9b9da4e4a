//! `Connection::proxy` to a dialed upstream: both directions at once (a large echo through
//! the proxy would deadlock otherwise), half-close passed through in both directions, byte
//! counts; zero-copy on plain TCP, the buffered path under TLS.

mod support;

use std::net::SocketAddr;

use support::{cert, client_tls, pattern, server_tls, tls_connect, within};
use tcpserver::{Connection, Server};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// An upstream that echoes while it reads, then, after the client's end of stream, appends a
/// trailer (which it can only send if the half-close reached it) and closes.
async fn upstream() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.into_split();
                tokio::io::copy(&mut r, &mut w).await.unwrap();
                w.write_all(b"<eof seen>").await.unwrap();
                w.shutdown().await.unwrap();
            });
        }
    });
    addr
}

/// Sends `data` and half-closes while reading everything back.
async fn roundtrip<S: AsyncRead + AsyncWrite>(s: S, data: &[u8]) -> Vec<u8> {
    let (mut r, mut w) = tokio::io::split(s);
    let write = async {
        w.write_all(data).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let mut got = Vec::new();
    let read = r.read_to_end(&mut got);
    let (_, n) = within(async { tokio::join!(write, read) }).await;
    n.unwrap();
    got
}

fn proxy_server(
    server: Server,
    up: SocketAddr,
) -> (tcpserver::ServerHandle, mpsc::UnboundedReceiver<(u64, u64)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = server.handle();
    tokio::spawn(server.serve(move |mut conn: Connection| {
        let tx = tx.clone();
        async move {
            let mut upstream = TcpStream::connect(up).await.unwrap();
            let counts = conn.proxy(&mut upstream).await.unwrap();
            tx.send(counts).unwrap();
        }
    }));
    (handle, rx)
}

fn expected(data: &[u8]) -> Vec<u8> {
    let mut e = data.to_vec();
    e.extend_from_slice(b"<eof seen>");
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tcp_proxy_moves_both_directions_and_half_closes() {
    let up = upstream().await;
    let (handle, mut counts) = proxy_server(Server::builder("127.0.0.1:0").build().unwrap(), up);
    let data = pattern(8 * 1024 * 1024);
    for data in [&data[..], b"x", b""] {
        let s = within(TcpStream::connect(handle.local_addr()))
            .await
            .unwrap();
        let got = roundtrip(s, data).await;
        assert!(got == expected(data), "byte-exact, {} bytes", data.len());
        let (sent, received) = within(counts.recv()).await.unwrap();
        assert_eq!(sent, data.len() as u64);
        assert_eq!(received, data.len() as u64 + 10);
    }
    handle.halt();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_proxy_uses_the_buffered_path() {
    let cert = cert();
    let server = Server::builder("127.0.0.1:0")
        .tls(server_tls(&cert))
        .build()
        .unwrap();
    let up = upstream().await;
    let (handle, mut counts) = proxy_server(server, up);
    let data = pattern(2 * 1024 * 1024);
    let s = within(tls_connect(handle.local_addr(), &client_tls(&cert)))
        .await
        .unwrap();
    let got = roundtrip(s, &data).await;
    assert!(got == expected(&data));
    let (sent, received) = within(counts.recv()).await.unwrap();
    assert_eq!(
        (sent, received),
        (data.len() as u64, data.len() as u64 + 10)
    );
    handle.halt();
}
