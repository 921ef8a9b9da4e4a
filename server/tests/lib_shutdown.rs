//! Graceful shutdown with a deadline, ZERO (wait forever), halt, draining queued connections
//! (also with per-core SO_REUSEPORT listeners), `stopped()`, and dropping `serve`.

mod support;

use std::time::{Duration, Instant};

use support::{join_thread, spawn_per_core, spawn_shared, within};
use tcpserver::{Connection, ListenOptions, Server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Says "hi", then waits for the client to close (holds the connection open).
async fn hold(mut conn: Connection) {
    let _ = conn.write_all(b"hi").await;
    let mut buf = [0u8; 16];
    while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
}

async fn open_held(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = within(TcpStream::connect(addr)).await.unwrap();
    let mut hi = [0u8; 2];
    within(s.read_exact(&mut hi)).await.unwrap();
    s
}

/// After the server closed it, the client sees EOF or a reset (never more data).
async fn assert_closed(mut s: TcpStream) {
    let mut rest = Vec::new();
    let _ = within(s.read_to_end(&mut rest)).await;
    assert!(rest.is_empty());
}

/// The deadline runs on tokio's paused clock: the connection is opened on the real clock, then
/// the clock is paused, so the 300 ms pass at once, exactly (neither earlier nor later).
#[tokio::test]
async fn deadline_closes_lingering_connections() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, hold);
    let held = open_held(addr).await;
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    handle.shutdown(Duration::from_millis(300));
    assert!(handle.is_shutting_down());
    within(task).await.unwrap().unwrap();
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(300)..Duration::from_millis(310)).contains(&waited),
        "serve returned {waited:?} into a 300 ms deadline"
    );
    // Back to the real clock for the socket: the close reaches it through the kernel.
    tokio::time::resume();
    assert_closed(held).await;
    assert_eq!(handle.active_connections(), 0);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_finish_within_the_deadline() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, |mut conn: Connection| async move {
        let mut go = [0u8; 1];
        let _ = conn.read_exact(&mut go).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = conn.write_all(b"done").await;
    });
    let mut s = within(TcpStream::connect(addr)).await.unwrap();
    // Make sure the connection is accepted before shutting down.
    support::eventually(|| handle.active_connections() == 1).await;
    handle.shutdown(Duration::from_secs(30));
    s.write_all(b"g").await.unwrap();
    let mut out = Vec::new();
    within(s.read_to_end(&mut out)).await.unwrap();
    assert_eq!(out, b"done");
    let started = Instant::now();
    within(task).await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "returned when idle, not at the deadline"
    );
}

#[tokio::test]
async fn zero_waits_for_handlers_forever() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let (handle, mut task) = spawn_shared(server, hold);
    let held = open_held(addr).await;
    handle.shutdown(Duration::ZERO);
    // Still waiting for the held connection an hour later (on the paused clock: at once).
    tokio::time::pause();
    assert!(
        tokio::time::timeout(Duration::from_secs(3600), &mut task)
            .await
            .is_err()
    );
    tokio::time::resume();
    assert_eq!(handle.active_connections(), 1);
    drop(held);
    within(task).await.unwrap().unwrap();
    assert_eq!(handle.active_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halt_closes_at_once_and_shortens_a_graceful_shutdown() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, hold);
    let a = open_held(addr).await;
    let b = open_held(addr).await;
    handle.shutdown(Duration::ZERO);
    let h2: ServerHandle = handle.clone();
    // Halt from another (non-tokio) thread.
    std::thread::spawn(move || h2.halt()).join().unwrap();
    within(task).await.unwrap().unwrap();
    assert_closed(a).await;
    assert_closed(b).await;
    assert_eq!(handle.active_connections(), 0);
    within(handle.stopped()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_core_deadline_and_halt() {
    for halt in [false, true] {
        let server = support::reuseport_server(2).build().unwrap();
        let addr = server.local_addr();
        let (handle, thread) = spawn_per_core(server, hold);
        let mut held = Vec::new();
        for _ in 0..6 {
            held.push(open_held(addr).await);
        }
        let started = Instant::now();
        if halt {
            handle.halt();
        } else {
            handle.shutdown(Duration::from_millis(300));
        }
        join_thread(thread).await.unwrap();
        if !halt {
            assert!(started.elapsed() >= Duration::from_millis(280));
        }
        for s in held {
            assert_closed(s).await;
        }
        assert_eq!(handle.active_connections(), 0);
    }
}

/// Connections that completed their handshake but wait in the kernel's accept queue when the
/// shutdown starts are accepted and served, not reset.
async fn check_drain(per_core: bool) {
    let mut builder = Server::builder("127.0.0.1:0");
    if per_core {
        builder = builder
            .listen_options(ListenOptions::new().reuse_port(true))
            .threads(2);
    }
    let server = builder.build().unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    // Queue clients before anything accepts.
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(within(TcpStream::connect(addr)).await.unwrap());
    }
    handle.shutdown(Duration::ZERO);
    let handler = |mut conn: Connection| async move {
        let _ = conn.write_all(b"served").await;
    };
    if per_core {
        let thread = std::thread::spawn(move || server.serve_per_core(handler));
        join_thread(thread).await.unwrap();
    } else {
        within(server.serve(handler)).await.unwrap();
    }
    for mut c in clients {
        let mut out = Vec::new();
        within(c.read_to_end(&mut out)).await.unwrap();
        assert_eq!(out, b"served");
    }
    assert_eq!(handle.accepted_connections(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_listener_drains_its_queue() {
    check_drain(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuseport_listeners_drain_their_queues() {
    check_drain(true).await;
}

/// At the connection cap (2), five clients: two served, three queued in the kernel. A graceful
/// shutdown starts; as the served clients leave, the queued ones are accepted and served
/// before the deadline instead of being reset.
async fn check_capped_drain(per_core: bool) {
    let mut builder = Server::builder("127.0.0.1:0").max_connections(2);
    if per_core {
        builder = builder.threads(2);
    }
    let server = builder.build().unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(within(TcpStream::connect(addr)).await.unwrap());
    }
    let serving = if per_core {
        let thread = std::thread::spawn(move || server.serve_per_core(hold));
        tokio::task::spawn_blocking(move || thread.join().unwrap())
    } else {
        let task = tokio::spawn(server.serve(hold));
        tokio::spawn(async move { task.await.unwrap() })
    };
    // The first two are served ("hi"); then the shutdown starts with three still queued.
    let mut hi = [0u8; 2];
    for c in &mut clients[..2] {
        within(c.read_exact(&mut hi)).await.unwrap();
    }
    handle.shutdown(Duration::from_secs(120));
    // Each client that was served leaves, which frees a slot for the next queued one.
    for (i, mut c) in clients.into_iter().enumerate() {
        if i >= 2 {
            within(c.read_exact(&mut hi))
                .await
                .unwrap_or_else(|e| panic!("queued client {i} was not served: {e}"));
            assert_eq!(&hi, b"hi");
        }
        drop(c);
    }
    within(serving).await.unwrap().unwrap();
    assert_eq!(handle.accepted_connections(), 5);
    assert_eq!(handle.active_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_clients_at_the_cap_are_served_during_shutdown() {
    check_capped_drain(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_core_queued_clients_at_the_cap_are_served_during_shutdown() {
    check_capped_drain(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_serve_halts() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let serve = server.serve(hold);
    let held = {
        tokio::pin!(serve);
        let client = open_held(addr);
        tokio::select! {
            _ = &mut serve => panic!("serve returned early"),
            s = client => s,
        }
    };
    assert_closed(held).await;
    support::eventually(|| handle.active_connections() == 0).await;
    within(handle.stopped()).await;
}

/// Long-lived handlers can wait for the shutdown signal and finish early.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_can_wait_for_the_shutdown_signal() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, |mut conn: Connection| async move {
        let server = conn.server().clone();
        let _ = conn.write_all(b"hi").await;
        let mut buf = [0u8; 16];
        tokio::select! {
            _ = server.shutdown_started() => {
                let _ = conn.write_all(b"bye").await;
            }
            _ = conn.read(&mut buf) => {}
        }
    });
    let mut s = open_held(addr).await;
    handle.shutdown(Duration::ZERO);
    let mut out = Vec::new();
    within(s.read_to_end(&mut out)).await.unwrap();
    assert_eq!(out, b"bye");
    within(task).await.unwrap().unwrap();
}
