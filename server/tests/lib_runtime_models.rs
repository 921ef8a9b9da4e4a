//! Many accept loops (shared model) and the per-core model, with and without SO_REUSEPORT.

mod support;

use std::collections::HashSet;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use support::{spawn_per_core, spawn_shared, within};
use tcpserver::{Connection, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Echoes one line-less message: reads up to 64 bytes, writes them back with the thread name.
async fn echo_once(mut conn: Connection) {
    let mut buf = [0u8; 64];
    let Ok(n) = conn.read(&mut buf).await else {
        return;
    };
    let name = std::thread::current().name().unwrap_or("?").to_string();
    let _ = conn.write_all(&buf[..n]).await;
    let _ = conn.write_all(b"|").await;
    let _ = conn.write_all(name.as_bytes()).await;
}

/// Opens `n` concurrent connections, each sends its index and checks the echo; returns the
/// thread names reported by the server.
async fn hammer(addr: std::net::SocketAddr, n: usize) -> HashSet<String> {
    let mut tasks = Vec::new();
    for i in 0..n {
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let msg = format!("hello {i}");
            s.write_all(msg.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            let (echo, thread) = out.split_once('|').unwrap();
            assert_eq!(echo, msg);
            thread.to_string()
        }));
    }
    let mut threads = HashSet::new();
    for t in tasks {
        threads.insert(within(t).await.unwrap());
    }
    threads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_model_many_loops() {
    for loops in [1, 8, 32] {
        let server = Server::builder("127.0.0.1:0").loops(loops).build().unwrap();
        let addr = server.local_addr();
        let (handle, task) = spawn_shared(server, echo_once);
        hammer(addr, 200).await;
        assert_eq!(handle.accepted_connections(), 200);
        support::stop_shared(&handle, task).await;
        assert_eq!(handle.active_connections(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_core_model_with_reuseport_uses_every_worker() {
    let server = support::reuseport_server(3).build().unwrap();
    let addr = server.local_addr();
    let (handle, thread) = spawn_per_core(server, echo_once);
    // The kernel hashes connections over the listeners; with many connections every worker
    // gets some, but allow for an unlucky spread by trying a few rounds.
    let mut seen = HashSet::new();
    for _ in 0..10 {
        seen.extend(hammer(addr, 100).await);
        if seen.len() == 3 {
            break;
        }
    }
    assert!(
        seen.iter().all(|t| t.starts_with("tcpserver-")),
        "handlers run on worker threads: {seen:?}"
    );
    assert_eq!(seen.len(), 3, "all three workers served: {seen:?}");
    support::stop_per_core(&handle, thread).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_core_model_without_reuseport_shares_the_listener() {
    let server = Server::builder("127.0.0.1:0").threads(2).build().unwrap();
    let addr = server.local_addr();
    let (handle, thread) = spawn_per_core(server, echo_once);
    let seen = hammer(addr, 100).await;
    assert!(!seen.is_empty());
    support::stop_per_core(&handle, thread).await;
}

/// The per-core model runs futures that are not `Send` (an `Rc` held across an await).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_core_handlers_need_not_be_send() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let server = support::reuseport_server(2)
        .pin_cpus(tcpserver::CpuSet::new([0]).unwrap())
        .build()
        .unwrap();
    let addr = server.local_addr();
    let log2 = log.clone();
    let (handle, thread) = spawn_per_core(server, move |mut conn| {
        let log = log2.clone();
        async move {
            let local = Rc::new(conn.peer_addr());
            let mut buf = [0u8; 4];
            let _ = conn.read_exact(&mut buf).await;
            log.lock().unwrap().push(*local);
            let _ = conn.write_all(&buf).await;
        }
    });
    for _ in 0..10 {
        let mut s = within(TcpStream::connect(addr)).await.unwrap();
        s.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        within(s.read_exact(&mut buf)).await.unwrap();
        assert_eq!(&buf, b"ping");
    }
    assert_eq!(log.lock().unwrap().len(), 10);
    support::stop_per_core(&handle, thread).await;
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_core_workers_are_pinned() {
    let server = support::reuseport_server(2)
        .pin_cpus(tcpserver::CpuSet::new([0]).unwrap())
        .build()
        .unwrap();
    let addr = server.local_addr();
    let (handle, thread) = spawn_per_core(server, |mut conn| async move {
        // SAFETY: cpu_set_t is plain data.
        let cpus = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
            libc::CPU_COUNT(&set)
        };
        let _ = conn.write_all(cpus.to_string().as_bytes()).await;
    });
    for _ in 0..4 {
        let got = within(support::read_all(addr)).await.unwrap();
        assert_eq!(got, b"1", "a pinned worker runs on exactly one CPU");
    }
    support::stop_per_core(&handle, thread).await;
}

/// `serve` also runs on a current-thread runtime (tokio's default for `#[tokio::test]`).
#[tokio::test]
async fn shared_model_on_a_current_thread_runtime() {
    let server = Server::builder("127.0.0.1:0").loops(2).build().unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, echo_once);
    hammer(addr, 20).await;
    support::stop_shared(&handle, task).await;
}
