//! Accepts per second and echo round trips over loopback, for both runtime models.
//!
//! ```text
//! cargo bench -p tcpserver-rs --bench lib_accept_echo
//! ```
//! The client runs in the same process (its own 2-thread runtime), so on a small machine the
//! figures measure client and server together; compare the models, not absolute numbers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tcpserver::{Connection, ListenOptions, Server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Concurrent clients for the accept benchmark.
const ACCEPT_CLIENTS: u64 = 8;
/// Bytes per echo round trip (bulk).
const BULK: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
enum Model {
    Shared,
    PerCore,
}

/// A running server and what stops it.
struct Running {
    addr: SocketAddr,
    handle: ServerHandle,
    stop: Box<dyn FnOnce()>,
}

fn start<H, F>(model: Model, handler: H) -> Running
where
    H: Fn(Connection) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let server = Server::builder("127.0.0.1:0")
        .listen_options(ListenOptions::new().reuse_port(true).backlog(4096))
        .threads(2)
        .loops(8)
        .build()
        .unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let stop: Box<dyn FnOnce()> = match model {
        Model::Shared => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let task = rt.spawn(server.serve(handler));
            let h = handle.clone();
            Box::new(move || {
                h.shutdown(Duration::from_secs(5));
                rt.block_on(task).unwrap().unwrap();
            })
        }
        Model::PerCore => {
            let t = std::thread::spawn(move || server.serve_per_core(handler));
            let h = handle.clone();
            Box::new(move || {
                h.shutdown(Duration::from_secs(5));
                t.join().unwrap().unwrap();
            })
        }
    };
    Running { addr, handle, stop }
}

fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// One connection per iteration: connect, read the server's byte, see it close.
fn accepts(c: &mut Criterion) {
    let mut group = c.benchmark_group("accept");
    group.throughput(Throughput::Elements(1));
    let client = client_runtime();
    for model in [Model::Shared, Model::PerCore] {
        let server = start(model, |mut conn: Connection| async move {
            let _ = conn.write_all(b"!").await;
        });
        let addr = server.addr;
        group.bench_function(format!("{model:?}"), |b| {
            b.iter_custom(|iters| {
                client.block_on(async move {
                    let started = Instant::now();
                    let mut tasks = Vec::new();
                    for i in 0..ACCEPT_CLIENTS {
                        let n = iters / ACCEPT_CLIENTS + u64::from(i < iters % ACCEPT_CLIENTS);
                        tasks.push(tokio::spawn(async move {
                            let mut buf = [0u8; 2];
                            for _ in 0..n {
                                let mut s = TcpStream::connect(addr).await.unwrap();
                                let _ = s.read(&mut buf).await;
                            }
                        }));
                    }
                    for t in tasks {
                        t.await.unwrap();
                    }
                    started.elapsed()
                })
            })
        });
        let accepted = server.handle.accepted_connections();
        (server.stop)();
        eprintln!("{model:?}: {accepted} connections accepted in total");
    }
    group.finish();
}

/// Echo round trips on one connection: 64 KiB bulk (splice) and a 64-byte ping-pong.
fn echo(c: &mut Criterion) {
    let client = client_runtime();
    for (name, size) in [("echo_64KiB", BULK), ("echo_64B", 64)] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(size as u64));
        for model in [Model::Shared, Model::PerCore] {
            let server = start(model, |mut conn: Connection| async move {
                let _ = conn.echo().await;
            });
            let mut s = client.block_on(TcpStream::connect(server.addr)).unwrap();
            let data = vec![7u8; size];
            let mut back = vec![0u8; size];
            group.bench_function(format!("{model:?}"), |b| {
                b.iter(|| {
                    client.block_on(async {
                        let (mut r, mut w) = s.split();
                        let write = w.write_all(&data);
                        let read = r.read_exact(&mut back);
                        let (a, b) = tokio::join!(write, read);
                        a.unwrap();
                        b.unwrap();
                    })
                })
            });
            drop(s);
            (server.stop)();
        }
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
}

criterion_group! {
    name = benches;
    config = config();
    targets = accepts, echo
}
criterion_main!(benches);
