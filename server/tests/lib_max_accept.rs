//! `max_accept(n)`: exactly n connections are handled, then the server shuts down; and the
//! connection limit (`max_connections`) applies back-pressure instead of failing.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::{eventually, join_thread, spawn_per_core, within};
use tcpserver::{Connection, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn counting(
    handled: Arc<AtomicUsize>,
) -> impl Fn(Connection) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
+ Send
+ Sync
+ 'static {
    move |mut conn: Connection| {
        let handled = handled.clone();
        Box::pin(async move {
            handled.fetch_add(1, Ordering::SeqCst);
            let _ = conn.write_all(b"ok").await;
        })
    }
}

/// `n` clients one after the other: each must be served.
async fn sequential(addr: std::net::SocketAddr, n: usize) {
    for i in 0..n {
        let got = within(support::read_all(addr)).await;
        assert_eq!(got.unwrap(), b"ok", "client {i} of {n} is served");
    }
}

/// Clients racing: returns how many were served (the others are refused or reset).
///
/// Each client half-closes right after connecting. A client whose handshake raced with a
/// closing listener can be left with a connection the server side forgot (Linux drops the
/// half-made one without a reset); only a segment from the client draws the reset that ends
/// it. A served client is unaffected: the handler never reads.
async fn clients(addr: std::net::SocketAddr, n: usize) -> usize {
    let mut tasks = Vec::new();
    for _ in 0..n {
        tasks.push(tokio::spawn(async move {
            let Ok(mut s) = TcpStream::connect(addr).await else {
                return false;
            };
            if s.shutdown().await.is_err() {
                return false;
            }
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out).await;
            out == b"ok"
        }));
    }
    let mut served = 0;
    for t in tasks {
        served += usize::from(within(t).await.unwrap());
    }
    served
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_n_shared_many_loops() {
    let handled = Arc::new(AtomicUsize::new(0));
    let server = Server::builder("127.0.0.1:0")
        .loops(8)
        .max_accept(5)
        .build()
        .unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let task = tokio::spawn(server.serve(counting(handled.clone())));
    sequential(addr, 3).await;
    // 30 clients race for the 2 slots left.
    let served = clients(addr, 30).await;
    // serve returns by itself after the 5th connection is done.
    within(task).await.unwrap().unwrap();
    assert_eq!(served, 2);
    assert_eq!(clients(addr, 5).await, 0);
    assert_eq!(handled.load(Ordering::SeqCst), 5);
    assert_eq!(handle.accepted_connections(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_n_per_core() {
    let handled = Arc::new(AtomicUsize::new(0));
    let server = support::reuseport_server(3).max_accept(4).build().unwrap();
    let addr = server.local_addr();
    let (handle, thread) = spawn_per_core(server, counting(handled.clone()));
    // Sequential clients: each is served, whichever worker's listener the kernel picks.
    sequential(addr, 3).await;
    let served = clients(addr, 30).await;
    join_thread(thread).await.unwrap();
    assert_eq!(served, 1);
    assert_eq!(clients(addr, 5).await, 0);
    assert_eq!(handled.load(Ordering::SeqCst), 4);
    assert_eq!(handle.accepted_connections(), 4);
}

/// `n` clients at once, spread by the kernel over three workers' listeners (rarely evenly):
/// all `n` are served. A worker must not give up while the server has tickets left, whichever
/// worker the last clients queue at; that closed listener would reset them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_clients_at_once_per_core_are_all_served() {
    const N: usize = 12;
    let handled = Arc::new(AtomicUsize::new(0));
    let server = support::reuseport_server(3)
        .max_accept(N as u64)
        .build()
        .unwrap();
    let addr = server.local_addr();
    let (handle, thread) = spawn_per_core(server, counting(handled.clone()));
    assert_eq!(clients(addr, N).await, N);
    join_thread(thread).await.unwrap();
    assert_eq!(handled.load(Ordering::SeqCst), N);
    assert_eq!(handle.accepted_connections(), N as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_then_done() {
    let server = Server::builder("127.0.0.1:0")
        .max_accept(1)
        .build()
        .unwrap();
    let addr = server.local_addr();
    let task = tokio::spawn(server.serve(|mut c: Connection| async move {
        let _ = c.write_all(b"only").await;
    }));
    assert_eq!(within(support::read_all(addr)).await.unwrap(), b"only");
    within(task).await.unwrap().unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}

/// At the connection limit the server stops accepting; waiting clients are served as soon as
/// a connection closes (nothing fails).
#[tokio::test]
async fn max_connections_back_pressure() {
    let peak = Arc::new(AtomicUsize::new(0));
    let server = Server::builder("127.0.0.1:0")
        .loops(4)
        .max_connections(2)
        .build()
        .unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let p = peak.clone();
    let task = tokio::spawn(server.serve(move |mut conn: Connection| {
        let p = p.clone();
        async move {
            p.fetch_max(conn.server().active_connections(), Ordering::SeqCst);
            let _ = conn.write_all(b"in").await;
            let mut buf = [0u8; 1];
            let _ = conn.read(&mut buf).await;
        }
    }));
    let mut first = Vec::new();
    for _ in 0..2 {
        let mut s = within(TcpStream::connect(addr)).await.unwrap();
        let mut b = [0u8; 2];
        within(s.read_exact(&mut b)).await.unwrap();
        first.push(s);
    }
    // A third client connects (kernel queue) but is not accepted while two are open, not even
    // a minute later (on tokio's paused clock: at once; the server runs on this runtime, and
    // its accept loop waits for a permit, not for a timer).
    let mut third = within(TcpStream::connect(addr)).await.unwrap();
    let mut b = [0u8; 2];
    tokio::time::pause();
    assert!(
        tokio::time::timeout(Duration::from_secs(60), third.read_exact(&mut b))
            .await
            .is_err()
    );
    tokio::time::resume();
    assert_eq!(handle.accepted_connections(), 2);
    drop(first.pop());
    within(third.read_exact(&mut b)).await.unwrap();
    assert_eq!(&b, b"in");
    assert!(peak.load(Ordering::SeqCst) <= 2);
    drop(first);
    drop(third);
    eventually(|| handle.active_connections() == 0).await;
    support::stop_shared(&handle, task).await;
}
