//! Per-connection TCP options from `ListenOptions` (keepalive idle/interval/retries and
//! `TCP_USER_TIMEOUT`), read back with getsockopt on accepted sockets: on every per-core
//! listener, and on TLS connections (through `AsFd for Connection`).

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::{cert, client_tls, join_thread, server_tls, tls_connect, within};
use tcpserver::{Connection, ListenOptions, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn options() -> ListenOptions {
    ListenOptions::new()
        .reuse_port(true)
        .keepalive(Duration::from_secs(75))
        .keepalive_interval(Duration::from_secs(7))
        .keepalive_retries(4)
        .user_timeout(Duration::from_secs(9))
}

/// What the accepted socket says, with the worker thread's name.
fn report(conn: &Connection) -> String {
    let s = socket2::SockRef::from(conn);
    format!(
        "{} {} {:?} {:?} {} {:?}",
        std::thread::current().name().unwrap_or("?"),
        s.keepalive().unwrap(),
        s.tcp_keepalive_time().unwrap(),
        s.tcp_keepalive_interval().unwrap(),
        s.tcp_keepalive_retries().unwrap(),
        s.tcp_user_timeout().unwrap(),
    )
}

const EXPECT: &str = "true 75s 7s 4 Some(9s)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_per_core_listener_applies_keepalive_and_user_timeout() {
    let server = Server::builder("127.0.0.1:0")
        .listen_options(options())
        .threads(2)
        .build()
        .unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let thread = std::thread::spawn(move || {
        server.serve_per_core(|mut conn| async move {
            let line = report(&conn);
            let _ = conn.write_all(line.as_bytes()).await;
        })
    });
    let mut workers = BTreeSet::new();
    let mut connections = 0;
    while workers.len() < 2 {
        assert!(connections < 500, "only workers {workers:?} were reached");
        connections += 1;
        let mut s = within(TcpStream::connect(addr)).await.unwrap();
        let mut line = String::new();
        within(s.read_to_string(&mut line)).await.unwrap();
        let (worker, opts) = line.split_once(' ').unwrap();
        assert_eq!(opts, EXPECT, "on {worker}");
        workers.insert(worker.to_string());
    }
    handle.shutdown(Duration::ZERO);
    join_thread(thread).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connections_expose_their_socket() {
    let cert = cert();
    let server = Server::builder("127.0.0.1:0")
        .listen_options(options())
        .tls(server_tls(&cert))
        .build()
        .unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let task = tokio::spawn(server.serve(|mut conn| async move {
        assert!(conn.is_tls());
        let line = report(&conn);
        let _ = conn.write_all(line.as_bytes()).await;
        let _ = conn.shutdown().await;
    }));
    let mut s = within(tls_connect(addr, &client_tls(&cert))).await.unwrap();
    let mut line = String::new();
    let _ = within(s.read_to_string(&mut line)).await;
    assert_eq!(line.split_once(' ').unwrap().1, EXPECT);
    handle.shutdown(Duration::ZERO);
    within(task).await.unwrap().unwrap();
}
