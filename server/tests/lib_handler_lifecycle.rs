//! The connection closes when the handler's future ends, also when it panics; a panicking
//! handler does not take the server down. Both runtime models.

mod support;

use std::time::Duration;

use support::{eventually, join_thread, read_all, spawn_per_core, spawn_shared, within};
use tcpserver::{Connection, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Writes "bye" and returns while the client still has its side open: the client must see EOF.
async fn say_bye(mut conn: Connection) {
    let _ = conn.write_all(b"bye").await;
}

/// Panics on "panic", otherwise answers "ok".
async fn maybe_panic(mut conn: Connection) {
    let mut buf = [0u8; 5];
    if conn.read_exact(&mut buf).await.is_err() {
        return;
    }
    if &buf == b"panic" {
        panic!("handler panicked on purpose");
    }
    let _ = conn.write_all(b"ok").await;
}

async fn send(addr: std::net::SocketAddr, msg: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(msg).await.unwrap();
    let mut out = Vec::new();
    // A panicking handler's connection is closed (EOF or reset).
    let _ = s.read_to_end(&mut out).await;
    out
}

async fn check_close_on_return(addr: std::net::SocketAddr, handle: &tcpserver::ServerHandle) {
    // The client keeps its socket open; reading to the end only finishes because the server
    // closed the connection when the handler returned.
    let mut s = within(TcpStream::connect(addr)).await.unwrap();
    let mut out = Vec::new();
    within(s.read_to_end(&mut out)).await.unwrap();
    assert_eq!(out, b"bye");
    eventually(|| handle.active_connections() == 0).await;
}

async fn check_panics_are_isolated(addr: std::net::SocketAddr, handle: &tcpserver::ServerHandle) {
    // A long-lived healthy connection survives the panics of others.
    let mut healthy = within(TcpStream::connect(addr)).await.unwrap();
    for _ in 0..5 {
        assert_eq!(within(send(addr, b"panic")).await, b"");
    }
    assert_eq!(within(send(addr, b"hello")).await, b"ok");
    healthy.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 2];
    within(healthy.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"ok");
    drop(healthy);
    eventually(|| handle.active_connections() == 0).await;
    assert_eq!(handle.accepted_connections(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_handler_end_closes_connection() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, say_bye);
    check_close_on_return(addr, &handle).await;
    support::stop_shared(&handle, task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_core_handler_end_closes_connection() {
    let server = Server::builder("127.0.0.1:0").threads(2).build().unwrap();
    let addr = server.local_addr();
    let (handle, thread) = spawn_per_core(server, say_bye);
    check_close_on_return(addr, &handle).await;
    support::stop_per_core(&handle, thread).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_panics_are_isolated() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, maybe_panic);
    check_panics_are_isolated(addr, &handle).await;
    // Still serving after the panics.
    assert_eq!(within(send(addr, b"again")).await, b"ok");
    support::stop_shared(&handle, task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_core_panics_are_isolated() {
    let server = support::reuseport_server(2).build().unwrap();
    let addr = server.local_addr();
    let (handle, thread) = spawn_per_core(server, maybe_panic);
    check_panics_are_isolated(addr, &handle).await;
    assert_eq!(within(send(addr, b"again")).await, b"ok");
    support::stop_per_core(&handle, thread).await;
    // A connection after the shutdown is refused.
    assert!(read_all(addr).await.is_err());
}

/// A hook or handler that panics before returning its future (in the accept loop) closes that
/// connection only; accepting goes on, in both models.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_before_the_future_are_isolated() {
    for per_core in [false, true] {
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = counter.clone();
        let builder = Server::builder("127.0.0.1:0")
            .loops(1)
            .threads(1)
            .on_connect(move |_conn: &mut Connection| {
                // Every third connection: the hook panics.
                if c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 3 == 1 {
                    panic!("hook panicked on purpose");
                }
            });
        let server = builder.build().unwrap();
        let addr = server.local_addr();
        let handler = |conn: Connection| {
            // Every third connection: the handler panics before making its future.
            if conn.server().accepted_connections().is_multiple_of(3) {
                panic!("handler panicked on purpose");
            }
            say_bye(conn)
        };
        let (handle, finish): (_, std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) =
            if per_core {
                let (h, t) = spawn_per_core(server, handler);
                (h, Box::pin(async move { join_thread(t).await.unwrap() }))
            } else {
                let (h, t) = spawn_shared(server, handler);
                (
                    h,
                    Box::pin(async move { within(t).await.unwrap().unwrap() }),
                )
            };
        let mut served = 0;
        for _ in 0..9 {
            let out = within(read_all(addr)).await.unwrap_or_default();
            if out == b"bye" {
                served += 1;
            }
        }
        assert_eq!(served, 3, "one in three connections survives both panics");
        eventually(|| handle.active_connections() == 0).await;
        handle.shutdown(Duration::ZERO);
        finish.await;
    }
}
