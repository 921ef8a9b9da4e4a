//! Zero-copy: sendfile from a file and splice between sockets move several MiB byte-exact;
//! the read/write fallbacks (a descriptor the kernel refuses, TLS) do too.

mod support;

use std::sync::{Arc, Mutex};

use support::{client_tls, pattern, spawn_shared, tls_connect, within};
use tcpserver::{Connection, Server};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MIB: usize = 1024 * 1024;

fn temp_file(data: &[u8]) -> (std::path::PathBuf, std::fs::File) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("tcpserver-zc-{}-{n}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    (path, file)
}

/// Writes `data` and reads everything back concurrently (for echo servers).
async fn send_and_collect<S: AsyncRead + AsyncWrite>(s: S, data: &[u8]) -> Vec<u8> {
    let (mut r, mut w) = tokio::io::split(s);
    let write = async {
        w.write_all(data).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let mut out = Vec::with_capacity(data.len());
    let read = r.read_to_end(&mut out);
    let (_, n) = within(async { tokio::join!(write, read) }).await;
    n.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_file_moves_a_file_byte_exact() {
    let data = pattern(8 * MIB + 123);
    let (path, _) = temp_file(&data);
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let p = path.clone();
    let (handle, task) = spawn_shared(server, move |mut conn: Connection| {
        let p = p.clone();
        async move {
            let file = std::fs::File::open(&p).unwrap();
            let len = file.metadata().unwrap().len();
            // Whole file, then a slice, then a range past the end (short count).
            assert_eq!(conn.send_file(&file, 0, len).await.unwrap(), len);
            assert_eq!(
                conn.send_file(&file, 1000, 3 * MIB as u64).await.unwrap(),
                3 * MIB as u64
            );
            assert_eq!(conn.send_file(&file, len - 10, 100).await.unwrap(), 10);
            // The raw-stream function too.
            let tcp = conn.tcp_stream().unwrap();
            assert_eq!(
                tcpserver::zero_copy::send_file(tcp, &file, 0, 77)
                    .await
                    .unwrap(),
                77
            );
        }
    });
    let got = within(support::read_all(addr)).await.unwrap();
    let mut expect = data.clone();
    expect.extend_from_slice(&data[1000..1000 + 3 * MIB]);
    expect.extend_from_slice(&data[data.len() - 10..]);
    expect.extend_from_slice(&data[..77]);
    assert_eq!(got.len(), expect.len());
    assert!(got == expect, "byte-exact");
    support::stop_shared(&handle, task).await;
    let _ = std::fs::remove_file(path);
}

/// The Go README's echo server, with splice: 8 MiB round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splice_echo_is_byte_exact() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, |mut conn: Connection| async move {
        let n = conn.echo().await.unwrap();
        assert_eq!(n, 8 * MIB as u64 + 7);
    });
    let data = pattern(8 * MIB + 7);
    let s = within(TcpStream::connect(addr)).await.unwrap();
    let got = send_and_collect(s, &data).await;
    assert!(got == data, "byte-exact");
    support::stop_shared(&handle, task).await;
}

/// A proxy: splice from an upstream socket to the client (one direction) and from the client
/// to the upstream (the other), 6 MiB each way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splice_proxy_between_two_sockets() {
    // Upstream: an echo server made of plain tokio.
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_addr = upstream.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = upstream.accept().await.unwrap();
        let (mut r, mut w) = s.split();
        tokio::io::copy(&mut r, &mut w).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, move |conn: Connection| async move {
        let up = TcpStream::connect(up_addr).await.unwrap();
        let client = conn.tcp_stream().unwrap();
        let to_up = async {
            let n = tcpserver::zero_copy::splice(client, &up).await.unwrap();
            socket2::SockRef::from(&up)
                .shutdown(std::net::Shutdown::Write)
                .unwrap();
            n
        };
        let from_up = tcpserver::zero_copy::splice(&up, client);
        let (a, b) = tokio::join!(to_up, from_up);
        assert_eq!(a, 6 * MIB as u64);
        assert_eq!(b.unwrap(), 6 * MIB as u64);
        drop(conn);
    });
    let data = pattern(6 * MIB);
    let s = within(TcpStream::connect(addr)).await.unwrap();
    let got = send_and_collect(s, &data).await;
    assert!(got == data, "byte-exact through the proxy");
    support::stop_shared(&handle, task).await;
}

/// sendfile from a descriptor the kernel refuses (a socket: ESPIPE/EINVAL) falls back to
/// read/write and still moves every byte.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_file_falls_back_where_the_kernel_refuses() {
    let logs = support::Logs::install("debug");
    let data = pattern(3 * MIB);
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let source = Arc::new(Mutex::new(None::<std::fs::File>));
    let src = source.clone();
    let (handle, task) = spawn_shared(server, move |mut conn: Connection| {
        let file = src.lock().unwrap().take().unwrap();
        async move {
            let n = conn.send_file(&file, 0, 3 * MIB as u64).await.unwrap();
            assert_eq!(n, 3 * MIB as u64);
        }
    });
    // A "file" that is really one end of a socket pair, fed by a thread.
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    *source.lock().unwrap() = Some(std::fs::File::from(std::os::fd::OwnedFd::from(a)));
    let feed = data.clone();
    std::thread::spawn(move || {
        std::io::Write::write_all(&mut b, &feed).unwrap();
    });
    let got = within(support::read_all(addr)).await.unwrap();
    assert!(got == data, "byte-exact through the fallback");
    let text = logs.text();
    #[cfg(target_os = "linux")]
    assert!(
        text.contains("sendfile refused"),
        "took the fallback: {text}"
    );
    support::stop_shared(&handle, task).await;
}

/// Under TLS the same calls copy through rustls (never sendfile/splice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_uses_the_buffered_path() {
    let cert = support::cert();
    let data = pattern(4 * MIB + 5);
    let (path, _) = temp_file(&data);
    let server = support::tls_server(&cert);
    let addr = server.local_addr();
    let p = path.clone();
    let (handle, task) = spawn_shared(server, move |mut conn: Connection| {
        let p = p.clone();
        async move {
            let mut cmd = [0u8; 4];
            conn.read_exact(&mut cmd).await.unwrap();
            if &cmd == b"file" {
                let file = std::fs::File::open(&p).unwrap();
                let len = file.metadata().unwrap().len();
                assert_eq!(conn.send_file(&file, 0, len).await.unwrap(), len);
            } else {
                conn.echo().await.unwrap();
            }
            conn.shutdown().await.unwrap();
        }
    });
    let client = client_tls(&cert);
    // send_file over TLS
    let mut s = within(tls_connect(addr, &client)).await.unwrap();
    s.write_all(b"file").await.unwrap();
    let mut got = Vec::new();
    within(s.read_to_end(&mut got)).await.unwrap();
    assert!(got == data, "send_file over TLS is byte-exact");
    // echo over TLS
    let s = within(tls_connect(addr, &client)).await.unwrap();
    let mut msg = b"echo".to_vec();
    msg.extend_from_slice(&data);
    let got = send_and_collect(s, &msg).await;
    assert!(got == data, "echo over TLS is byte-exact");
    support::stop_shared(&handle, task).await;
    let _ = std::fs::remove_file(path);
}

/// `Connection::splice_to` between two accepted connections: what client B sends arrives at
/// client A, byte-exact (splice for plain TCP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splice_between_two_connections() {
    let parked: Arc<Mutex<Option<Connection>>> = Arc::default();
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let slot = parked.clone();
    let (handle, task) = spawn_shared(server, move |mut conn: Connection| {
        let slot = slot.clone();
        async move {
            let mut role = [0u8; 1];
            conn.read_exact(&mut role).await.unwrap();
            if &role == b"A" {
                *slot.lock().unwrap() = Some(conn);
                return; // the connection lives on in the slot
            }
            let mut a = slot.lock().unwrap().take().expect("A connects first");
            let n = conn.splice_to(&mut a).await.unwrap();
            assert_eq!(n, 4 * MIB as u64);
            // Dropping `a` closes client A's connection: it sees EOF after the data.
        }
    });
    let mut a = within(TcpStream::connect(addr)).await.unwrap();
    a.write_all(b"A").await.unwrap();
    support::eventually(|| parked.lock().unwrap().is_some()).await;
    let data = pattern(4 * MIB);
    let mut b = within(TcpStream::connect(addr)).await.unwrap();
    let feed = data.clone();
    let writer = tokio::spawn(async move {
        b.write_all(b"B").await.unwrap();
        b.write_all(&feed).await.unwrap();
        b.shutdown().await.unwrap();
        b
    });
    let mut got = Vec::new();
    within(a.read_to_end(&mut got)).await.unwrap();
    assert!(got == data, "byte-exact from B to A");
    drop(within(writer).await.unwrap());
    support::stop_shared(&handle, task).await;
}
