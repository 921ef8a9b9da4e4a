//! The connection hook (the Go library's `SetConnectionCreator`): every connection is enriched
//! before the handler sees it, in both runtime models and with TLS.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use support::{read_all, spawn_per_core, spawn_shared, within};
use tcpserver::{Connection, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Per-connection state made by the hook.
struct Session {
    id: u64,
}

fn numbering() -> impl Fn(&mut Connection) + Send + Sync + 'static {
    let next = Arc::new(AtomicU64::new(1));
    move |conn: &mut Connection| {
        conn.insert_state(Session {
            id: next.fetch_add(1, Ordering::Relaxed),
        });
        conn.set_read_timeout(Some(Duration::from_secs(30)));
    }
}

async fn report(mut conn: Connection) {
    let id = conn.state::<Session>().map_or(0, |s| s.id);
    let timeout = conn.read_timeout().is_some();
    let _ = conn.write_all(format!("{id} {timeout}").as_bytes()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_runs_before_the_handler_shared() {
    let server = Server::builder("127.0.0.1:0")
        .on_connect(numbering())
        .build()
        .unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, report);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let out = String::from_utf8(within(read_all(addr)).await.unwrap()).unwrap();
        let (id, timeout) = out.split_once(' ').unwrap();
        assert_eq!(timeout, "true");
        ids.push(id.parse::<u64>().unwrap());
    }
    assert_eq!(ids, vec![1, 2, 3]);
    support::stop_shared(&handle, task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_runs_before_the_handler_per_core() {
    let server = support::reuseport_server(2)
        .on_connect(numbering())
        .build()
        .unwrap();
    let addr = server.local_addr();
    let (handle, thread) = spawn_per_core(server, report);
    let mut ids = Vec::new();
    for _ in 0..4 {
        let out = String::from_utf8(within(read_all(addr)).await.unwrap()).unwrap();
        ids.push(out.split_once(' ').unwrap().0.parse::<u64>().unwrap());
    }
    ids.sort();
    assert_eq!(ids, vec![1, 2, 3, 4]);
    support::stop_per_core(&handle, thread).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_sees_tls_connections_after_the_handshake() {
    let cert = support::cert();
    let server = Server::builder("127.0.0.1:0")
        .tls(support::server_tls(&cert))
        .on_connect(|conn: &mut Connection| {
            let sni = conn
                .tls_session()
                .and_then(|t| t.server_name())
                .unwrap_or("none")
                .to_string();
            conn.insert_state(sni);
        })
        .build()
        .unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, |mut conn: Connection| async move {
        let sni = conn.state::<String>().cloned().unwrap_or_default();
        let _ = conn.write_all(sni.as_bytes()).await;
        let _ = conn.shutdown().await;
    });
    let client = support::client_tls(&cert);
    let mut s = within(support::tls_connect(addr, &client)).await.unwrap();
    let mut out = String::new();
    within(s.read_to_string(&mut out)).await.unwrap();
    assert_eq!(out, "localhost");
    support::stop_shared(&handle, task).await;
}
