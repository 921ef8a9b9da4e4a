//! One server on several listeners (IPv4, IPv6, a Unix domain socket) in both runtime models:
//! one handler, one set of counters, one shutdown; Unix peers with credentials, the socket
//! file's mode, stale socket files, and the file removed when the server stops.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use support::{join_thread, within};
use tcpserver::{Connection, Error, ListenAddr, ListenOptions, PeerAddr, ServerBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

/// A fresh directory for this test's socket files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpserver-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes how the server saw the peer, then closes.
async fn describe(mut conn: Connection) {
    let line = match conn.peer() {
        PeerAddr::Tcp(a) => format!("tcp {}\n", a.ip()),
        PeerAddr::Unix(Some(c)) => format!("unix {} {:?}\n", c.uid(), c.pid()),
        PeerAddr::Unix(None) => "unix ? ?\n".to_string(),
    };
    let _ = conn.write_all(line.as_bytes()).await;
}

async fn read_line_tcp(addr: std::net::SocketAddr) -> String {
    let mut s = within(TcpStream::connect(addr)).await.unwrap();
    let mut out = String::new();
    within(s.read_to_string(&mut out)).await.unwrap();
    out
}

async fn read_line_unix(path: &Path) -> String {
    let mut s = within(UnixStream::connect(path)).await.unwrap();
    let mut out = String::new();
    within(s.read_to_string(&mut out)).await.unwrap();
    out
}

fn three_listeners(dir: &Path) -> ServerBuilder {
    ServerBuilder::new()
        .listen("127.0.0.1:0")
        .listen("[::1]:0")
        .listen_unix(dir.join("s.sock"))
        .loops(2)
}

/// Talks to all three listeners; checks what the one handler saw.
async fn check_three(addrs: &[ListenAddr], sock: &Path) {
    let (v4, v6) = (addrs[0].tcp().unwrap(), addrs[1].tcp().unwrap());
    assert!(v4.is_ipv4() && v6.is_ipv6());
    assert_eq!(addrs[2], ListenAddr::Unix(sock.to_path_buf()));
    assert_eq!(read_line_tcp(v4).await, "tcp 127.0.0.1\n");
    assert_eq!(read_line_tcp(v6).await, "tcp ::1\n");
    let uid = std::fs::metadata(sock.parent().unwrap()).unwrap().uid();
    assert_eq!(
        read_line_unix(sock).await,
        format!("unix {uid} Some({})\n", std::process::id())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_v6_and_unix_in_one_shared_server() {
    let dir = temp_dir("three-shared");
    let sock = dir.join("s.sock");
    let server = three_listeners(&dir)
        .listen_options(ListenOptions::new().unix_mode(0o600))
        .build()
        .unwrap();
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let handle = server.handle();
    let addrs = handle.listen_addrs().to_vec();
    assert_eq!(handle.local_addr(), addrs[0].tcp().unwrap());
    let task = tokio::spawn(server.serve(describe));
    check_three(&addrs, &sock).await;
    assert_eq!(handle.accepted_connections(), 3);
    handle.shutdown(std::time::Duration::ZERO);
    within(task).await.unwrap().unwrap();
    assert!(
        !sock.exists(),
        "the socket file is removed when the server stops"
    );
    assert!(TcpStream::connect(addrs[1].tcp().unwrap()).await.is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_v6_and_unix_in_one_per_core_server() {
    let dir = temp_dir("three-per-core");
    let sock = dir.join("s.sock");
    let server = three_listeners(&dir)
        .listen_options(ListenOptions::new().reuse_port(true))
        .threads(2)
        .build()
        .unwrap();
    let handle = server.handle();
    let addrs = handle.listen_addrs().to_vec();
    let thread = std::thread::spawn(move || server.serve_per_core(describe));
    for _ in 0..3 {
        check_three(&addrs, &sock).await;
    }
    assert_eq!(handle.accepted_connections(), 9);
    handle.shutdown(std::time::Duration::ZERO);
    join_thread(thread).await.unwrap();
    assert!(!sock.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_stale_socket_file_is_replaced_a_live_one_is_not() {
    let dir = temp_dir("stale");
    let sock = dir.join("s.sock");
    // A live listener: binding must fail and leave it alone.
    let live = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    match ServerBuilder::new().listen_unix(&sock).build() {
        Err(Error::BindUnix { path, source }) => {
            assert_eq!(path, sock);
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        other => panic!("expected BindUnix, got {other:?}"),
    }
    assert!(std::os::unix::net::UnixStream::connect(&sock).is_ok());
    // The process that owned it is gone: the file is stale and gets replaced.
    drop(live);
    assert!(sock.exists());
    let server = ServerBuilder::new().listen_unix(&sock).build().unwrap();
    let handle = server.handle();
    let task = tokio::spawn(server.serve(describe));
    assert!(read_line_unix(&sock).await.starts_with("unix "));
    handle.shutdown(std::time::Duration::ZERO);
    within(task).await.unwrap().unwrap();
    // Not a socket: refused, and the file is kept.
    std::fs::write(&sock, b"data").unwrap();
    assert!(matches!(
        ServerBuilder::new().listen_unix(&sock).build(),
        Err(Error::BindUnix { .. })
    ));
    assert_eq!(std::fs::read(&sock).unwrap(), b"data");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_builder_without_listener_is_refused() {
    assert!(matches!(
        ServerBuilder::new().build(),
        Err(Error::Config(_))
    ));
}
