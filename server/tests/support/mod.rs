//! Helpers shared by the library's integration tests: servers in a task or on a thread, raw
//! clients, log capture, TLS certificates and clients (`tls.rs`), the malformed-request corpus
//! (`corpus.rs`), and the waiting helpers every crate's tests share (`harness.rs`).
//!
//! `http_props.rs` (the HTTP-layer properties) is not a module of this one: the fuzz target and
//! `reliability_fuzz.rs` include it by path.
#![allow(dead_code)] // each test binary uses a different subset

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tcpserver::{Connection, Error, Server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub mod corpus;
mod harness;
#[allow(unused_imports)] // not every test uses every helper
pub use harness::*;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tls")]
#[allow(unused_imports)] // not every test uses TLS
pub use tls::*;

/// Runs `serve` in a spawned task; returns the handle and the task.
pub fn spawn_shared<H, F>(
    server: Server,
    handler: H,
) -> (ServerHandle, tokio::task::JoinHandle<Result<(), Error>>)
where
    H: Fn(Connection) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let handle = server.handle();
    (handle, tokio::spawn(server.serve(handler)))
}

/// Runs `serve_per_core` on a thread; returns the handle and the thread.
pub fn spawn_per_core<H, F>(
    server: Server,
    handler: H,
) -> (ServerHandle, std::thread::JoinHandle<Result<(), Error>>)
where
    H: Fn(Connection) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + 'static,
{
    let handle = server.handle();
    (
        handle,
        std::thread::spawn(move || server.serve_per_core(handler)),
    )
}

/// Waits for a per-core server thread without blocking the test's runtime.
pub async fn join_thread<T: Send + 'static>(t: std::thread::JoinHandle<T>) -> T {
    within(tokio::task::spawn_blocking(move || {
        t.join().expect("server thread panicked")
    }))
    .await
    .unwrap()
}

/// Connects, reads everything until EOF.
pub async fn read_all(addr: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    Ok(out)
}

/// A handler that writes `msg` and returns (closing the connection).
pub async fn greet(mut conn: Connection, msg: &'static [u8]) {
    let _ = conn.write_all(msg).await;
}

/// Deterministic test data.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Graceful shutdown (waiting for handlers) of a server started with [`spawn_shared`].
pub async fn stop_shared(handle: &ServerHandle, task: tokio::task::JoinHandle<Result<(), Error>>) {
    handle.shutdown(Duration::ZERO);
    within(task).await.unwrap().unwrap();
}

/// Graceful shutdown of a server started with [`spawn_per_core`].
pub async fn stop_per_core(
    handle: &ServerHandle,
    thread: std::thread::JoinHandle<Result<(), Error>>,
) {
    handle.shutdown(Duration::ZERO);
    join_thread(thread).await.unwrap();
}

/// A per-core server on 127.0.0.1:0 with SO_REUSEPORT and `threads` workers.
pub fn reuseport_server(threads: usize) -> tcpserver::ServerBuilder {
    Server::builder("127.0.0.1:0")
        .listen_options(tcpserver::ListenOptions::new().reuse_port(true))
        .threads(threads)
}

/// Log output kept in memory (writing it needs no file descriptor), to check what the
/// library logged.
#[derive(Clone, Default)]
pub struct Logs(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Installs a global subscriber writing the library's logs at `level` into a `Logs`.
    pub fn install(level: &str) -> Logs {
        let logs = Logs::default();
        let writer = logs.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(format!("tcpserver={level}"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        logs
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
