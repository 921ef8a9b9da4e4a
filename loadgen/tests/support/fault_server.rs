//! [`FaultServer`]: a misbehaving HTTP/1.1 test server for loadgen's fault tests.
//!
//! Plain tokio, no dependency on the tcpserver library: each [`FaultServer`] runs on its own
//! thread with its own runtime, answers every request with one [`Fault`], and counts what it saw.
//! Dropping the server stops it (its connections are closed with it).

#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How the server answers each request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// `200 OK` with a 5-byte body, keep-alive.
    Ok,
    /// A well-formed response with this status (e.g. 503), keep-alive.
    Status(u16),
    /// Read the request, then reset the connection (RST: SO_LINGER 0 and close).
    Reset,
    /// Read the request, then close cleanly (FIN) without answering.
    CloseBeforeResponse,
    /// Close (FIN) right after accept, before reading anything.
    CloseOnAccept,
    /// Reset (RST) right after accept, before reading anything.
    ResetOnAccept,
    /// Right after accept, send bytes that are neither HTTP nor TLS, then close.
    GarbageOnAccept,
    /// Read the request and never answer; the connection stays open until the server is dropped.
    Stall,
    /// Answer with bytes that are not HTTP, then close.
    Garbage,
    /// Send half a status line and headers, then close.
    TruncatedHeaders,
    /// Announce `Content-Length: 100`, send 10 bytes, then close.
    TruncatedBody,
    /// Announce a body of `len` bytes and send one byte every `every`.
    SlowBody { len: usize, every: Duration },
    /// A valid chunked response (`hello world` in three chunks), keep-alive.
    Chunked,
    /// A chunked response with an invalid chunk size, then close.
    BadChunked,
    /// `HTTP/1.0 200` without Content-Length: the body ends at close.
    CloseDelimited,
    /// An invalid status code (`HTTP/1.1 2000 OK`), then close.
    BadStatus,
    /// Headers that never end: 1 MiB of header lines, then close.
    EndlessHeaders,
    /// Every `n`-th request (1-based, counted over the whole server) gets `fault`, the others
    /// get [`Fault::Ok`].
    EveryNth { n: u64, fault: Box<Fault> },
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct FaultStats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Complete requests read.
    pub requests: AtomicU64,
    /// Responses (or faults) started.
    pub faults: AtomicU64,
}

/// A running misbehaving server; dropped = stopped.
pub struct FaultServer {
    addr: SocketAddr,
    stats: Arc<FaultStats>,
    stop: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultServer {
    /// Binds 127.0.0.1:0 and starts serving `fault` on a new thread.
    pub fn start(fault: Fault) -> FaultServer {
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind fault server on 127.0.0.1:0");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("local addr");
        let stats = Arc::new(FaultStats::default());
        let (stop_tx, stop_rx) = watch::channel(false);
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("fault-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("fault server runtime");
                rt.block_on(serve(std_listener, fault, thread_stats, stop_rx));
                // Dropping the runtime cancels the connection tasks (and closes their sockets).
                rt.shutdown_timeout(Duration::from_secs(1));
            })
            .expect("spawn fault server thread");
        FaultServer {
            addr,
            stats,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The counters.
    pub fn stats(&self) -> &FaultStats {
        &self.stats
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.stats.connections.load(Ordering::SeqCst)
    }

    /// Complete requests read so far.
    pub fn requests(&self) -> u64 {
        self.stats.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    std_listener: std::net::TcpListener,
    fault: Fault,
    stats: Arc<FaultStats>,
    mut stop: watch::Receiver<bool>,
) {
    let listener = TcpListener::from_std(std_listener).expect("tokio listener");
    let fault = Arc::new(fault);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                stats.connections.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, fault.clone(), stats.clone()));
            }
        }
    }
}

/// Serves one connection until the peer closes or a fault ends it.
async fn connection(mut stream: TcpStream, fault: Arc<Fault>, stats: Arc<FaultStats>) {
    match &*fault {
        Fault::CloseOnAccept => return,
        Fault::ResetOnAccept => {
            reset(stream);
            return;
        }
        Fault::GarbageOnAccept => {
            let _ = stream.write_all(GARBAGE).await;
            return;
        }
        _ => {}
    }
    let mut buf = Vec::with_capacity(4096);
    loop {
        if !read_request(&mut stream, &mut buf).await {
            return;
        }
        let n = stats.requests.fetch_add(1, Ordering::SeqCst) + 1;
        stats.faults.fetch_add(1, Ordering::SeqCst);
        let mut this = &*fault;
        if let Fault::EveryNth { n: every, fault } = this {
            this = if n.is_multiple_of(*every) {
                fault
            } else {
                &Fault::Ok
            };
        }
        if !answer(&mut stream, this).await {
            return;
        }
    }
}

/// Writes the answer for one request; `false` = the connection is done.
async fn answer(stream: &mut TcpStream, fault: &Fault) -> bool {
    match fault {
        Fault::Ok => send(stream, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await,
        Fault::Status(code) => {
            let body = format!("status {code}");
            let head = format!(
                "HTTP/1.1 {code} Fault\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            send(stream, head.as_bytes()).await
        }
        Fault::Reset => {
            // The caller drops the stream on `false`: with SO_LINGER 0 that sends RST.
            let _ = socket2::SockRef::from(&*stream).set_linger(Some(Duration::ZERO));
            false
        }
        Fault::CloseBeforeResponse => false,
        Fault::CloseOnAccept | Fault::ResetOnAccept | Fault::GarbageOnAccept => false,
        Fault::Stall => {
            // Hold the connection until the peer goes away or the server stops.
            let mut sink = [0u8; 1024];
            while let Ok(n) = stream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
            false
        }
        Fault::Garbage => {
            let _ = stream.write_all(GARBAGE).await;
            false
        }
        Fault::TruncatedHeaders => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Len").await;
            false
        }
        Fault::TruncatedBody => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                .await;
            false
        }
        Fault::SlowBody { len, every } => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
            if !send(stream, head.as_bytes()).await {
                return false;
            }
            for _ in 0..*len {
                tokio::time::sleep(*every).await;
                if !send(stream, b"x").await {
                    return false;
                }
            }
            true
        }
        Fault::Chunked => {
            send(
                stream,
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                  5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n",
            )
            .await
        }
        Fault::BadChunked => {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
                )
                .await;
            false
        }
        Fault::CloseDelimited => {
            let _ = stream
                .write_all(b"HTTP/1.0 200 OK\r\n\r\nbody until close")
                .await;
            false
        }
        Fault::BadStatus => {
            let _ = stream
                .write_all(b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n")
                .await;
            false
        }
        Fault::EndlessHeaders => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n").await;
            let line = b"X-Endless: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
            for _ in 0..(1 << 20) / line.len() {
                if stream.write_all(line).await.is_err() {
                    break;
                }
            }
            false
        }
        Fault::EveryNth { .. } => false,
    }
}

/// Neither HTTP nor TLS.
const GARBAGE: &[u8] = b"\x00\x01\x02 this is not HTTP \xff\xfe\r\n\r\n";

async fn send(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    stream.write_all(bytes).await.is_ok()
}

/// Closes with RST instead of FIN.
fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Reads one request head (and a Content-Length body, if any) into `buf`, consuming it.
/// `false` when the peer closed or sent something unparsable.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    loop {
        match super::parse_request(buf) {
            Ok(Some(request)) if buf.len() >= request.len => {
                buf.drain(..request.len);
                return true;
            }
            Ok(_) => {}
            Err(_) => return false,
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
