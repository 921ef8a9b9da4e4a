//! Active and accepted counters and the listen address, as seen from the handle and from
//! inside handlers.

mod support;

use support::{eventually, spawn_per_core, spawn_shared, within};
use tcpserver::{Connection, Server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reports the counters, then holds the connection until the client closes it.
async fn report_and_hold(mut conn: Connection) {
    let s = conn.server();
    let msg = format!("{} {}", s.active_connections(), s.accepted_connections());
    let _ = conn.write_all(msg.as_bytes()).await;
    let mut buf = [0u8; 8];
    while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
}

async fn check(handle: &ServerHandle) {
    let addr = handle.local_addr();
    assert_eq!(handle.active_connections(), 0);
    assert_eq!(handle.accepted_connections(), 0);
    let mut open = Vec::new();
    for i in 1..=5u64 {
        let mut s = within(TcpStream::connect(addr)).await.unwrap();
        let mut buf = [0u8; 16];
        let n = within(s.read(&mut buf)).await.unwrap();
        let seen = String::from_utf8_lossy(&buf[..n]).to_string();
        assert_eq!(
            seen,
            format!("{i} {i}"),
            "active and accepted inside the handler"
        );
        open.push(s);
    }
    assert_eq!(handle.active_connections(), 5);
    assert_eq!(handle.accepted_connections(), 5);
    open.truncate(2);
    eventually(|| handle.active_connections() == 2).await;
    assert_eq!(handle.accepted_connections(), 5);
    drop(open);
    eventually(|| handle.active_connections() == 0).await;
    assert_eq!(handle.accepted_connections(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_shared_model() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let (handle, task) = spawn_shared(server, report_and_hold);
    check(&handle).await;
    support::stop_shared(&handle, task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_per_core_model() {
    let server = support::reuseport_server(2).build().unwrap();
    let (handle, thread) = spawn_per_core(server, report_and_hold);
    check(&handle).await;
    support::stop_per_core(&handle, thread).await;
}

#[test]
fn handle_is_send_sync_clone_and_debug() {
    fn assert_send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_send_sync::<ServerHandle>();
    fn assert_conn<T: Send + Sync + Unpin + tokio::io::AsyncRead + tokio::io::AsyncWrite>() {}
    assert_conn::<Connection>();
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let handle = server.handle();
    assert_eq!(handle.local_addr(), server.local_addr());
    assert!(format!("{handle:?}").contains("active"));
}
