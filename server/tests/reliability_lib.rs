//! The library under faults: panicking handlers, the connection cap, and hostile TLS clients.
//! Each test fails if the property breaks.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tcpserver::{Connection, Server, ServerHandle};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use support::corpus::tls_client_hello;
use support::{PATIENCE, eventually, runtime};

/// Echoes until EOF; a first byte `P` makes the handler panic instead.
async fn echo_or_panic<S: AsyncRead + AsyncWrite + Unpin>(mut conn: S) {
    let mut buf = [0u8; 4096];
    let mut first = true;
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if first && buf[0] == b'P' {
            panic!("handler panics on purpose (reliability test)");
        }
        first = false;
        if conn.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Sends `rounds` messages and checks each echo.
async fn echo_client<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    rounds: usize,
) -> Result<(), String> {
    for i in 0..rounds {
        let msg = format!("hello {i}\n");
        stream
            .write_all(msg.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut back = vec![0u8; msg.len()];
        stream
            .read_exact(&mut back)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if back != msg.as_bytes() {
            return Err(format!(
                "echo mismatch: {:?}",
                String::from_utf8_lossy(&back)
            ));
        }
    }
    Ok(())
}

/// Waits until the peer closes `stream` (EOF or reset); the time it took.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
    .map(|_| start.elapsed())
}

/// A server serving on its own thread in one of the two runtime models.
struct Running {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: std::thread::JoinHandle<Result<(), tcpserver::Error>>,
}

#[derive(Debug, Clone, Copy)]
enum Model {
    /// `serve` on a 2-worker multi-thread runtime, 2 accept loops.
    Shared,
    /// `serve_per_core` with 2 threads.
    PerCore,
}

const MODELS: [Model; 2] = [Model::Shared, Model::PerCore];

impl Running {
    /// Builds `builder` for `model` and serves `handler` on a new thread.
    fn start<H, F>(builder: tcpserver::ServerBuilder, model: Model, handler: H) -> Running
    where
        H: Fn(Connection) -> F + Send + Sync + 'static,
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let server = match model {
            Model::Shared => builder.loops(2),
            Model::PerCore => builder.threads(2),
        }
        .build()
        .expect("build server");
        let (addr, handle) = (server.local_addr(), server.handle());
        let thread = std::thread::spawn(move || match model {
            Model::Shared => runtime().block_on(server.serve(handler)),
            Model::PerCore => server.serve_per_core(handler),
        });
        Running {
            addr,
            handle,
            thread,
        }
    }

    /// Graceful shutdown; `serve` must return within its deadline.
    fn stop(self) {
        let began = Instant::now();
        self.handle.shutdown(Duration::from_secs(5));
        self.thread.join().expect("serve thread").expect("serve ok");
        assert!(
            began.elapsed() < PATIENCE,
            "serve took {:?}",
            began.elapsed()
        );
    }
}

/// Panicking handlers next to working ones: `good` clients all get their echoes, every
/// panicking connection is closed, the server keeps accepting, and the active count returns
/// to zero.
async fn panic_scenario(addr: SocketAddr, handle: &ServerHandle) {
    let mut tasks = Vec::new();
    for i in 0..40 {
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            if i % 2 == 0 {
                stream.write_all(b"P").await.map_err(|e| e.to_string())?;
                until_closed(&mut stream, PATIENCE)
                    .await
                    .map(|_| ())
                    .ok_or_else(|| "panicking connection not closed".to_string())
            } else {
                echo_client(stream, 20).await
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task").expect("client");
    }
    // Still accepting after the panics.
    let stream = TcpStream::connect(addr)
        .await
        .expect("connect after panics");
    echo_client(stream, 3).await.expect("echo after panics");
    eventually(|| handle.active_connections() == 0).await;
}

#[test]
fn panicking_handler_affects_only_its_connection() {
    for model in MODELS {
        let server = Running::start(Server::builder("127.0.0.1:0"), model, |conn: Connection| {
            echo_or_panic(conn)
        });
        runtime().block_on(panic_scenario(server.addr, &server.handle));
        server.stop();
    }
}

/// With `max_connections(8)`, 40 concurrent clients: never more than 8 handlers run at once
/// (nor 8 counted active), the 9th waits (not dropped) until a slot frees, and all are served.
#[test]
fn connection_cap_is_never_exceeded_and_excess_clients_wait() {
    for model in MODELS {
        connection_cap(model);
    }
}

fn connection_cap(model: Model) {
    const CAP: usize = 8;
    let live = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (l, p) = (live.clone(), peak.clone());
    let server = Running::start(
        Server::builder("127.0.0.1:0").max_connections(CAP),
        model,
        move |mut conn: Connection| {
            let (live, peak) = (l.clone(), p.clone());
            async move {
                let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                echo_or_panic(&mut conn).await;
                // Count the handler done before the connection (and its permit) is released.
                live.fetch_sub(1, Ordering::SeqCst);
                drop(conn);
            }
        },
    );
    let (addr, handle) = (server.addr, server.handle.clone());
    runtime().block_on(async {
        // Fill the cap with connections that are served and held open.
        let mut holders = Vec::new();
        for _ in 0..CAP {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            s.write_all(b"x").await.expect("write");
            let mut b = [0u8; 1];
            timeout(PATIENCE, s.read_exact(&mut b))
                .await
                .expect("holder served")
                .expect("echo");
            holders.push(s);
        }
        // One more: connected (kernel backlog) but not served while the cap is reached.
        let mut extra = TcpStream::connect(addr).await.expect("extra connect");
        extra.write_all(b"y").await.expect("extra write");
        let mut b = [0u8; 1];
        assert!(
            timeout(Duration::from_millis(500), extra.read_exact(&mut b))
                .await
                .is_err(),
            "{model:?}: a connection past the cap was served"
        );
        assert!(handle.active_connections() <= CAP);
        // Free one slot: the waiting connection is served.
        drop(holders.pop());
        timeout(PATIENCE, extra.read_exact(&mut b))
            .await
            .expect("waiting connection served after a slot freed")
            .expect("echo");
        drop(extra);
        drop(holders);

        // A burst of 40 concurrent clients, while sampling the active count.
        let sampling = {
            let handle = handle.clone();
            tokio::spawn(async move {
                let mut max = 0;
                for _ in 0..500 {
                    max = max.max(handle.active_connections());
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                max
            })
        };
        let clients: Vec<_> = (0..40)
            .map(|_| {
                tokio::spawn(async move {
                    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
                    echo_client(stream, 5).await?;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok::<(), String>(())
                })
            })
            .collect();
        for c in clients {
            timeout(PATIENCE, c)
                .await
                .expect("client finished")
                .expect("client task")
                .expect("client served");
        }
        let sampled = sampling.await.expect("sampler");
        assert!(
            sampled <= CAP,
            "{model:?}: active_connections reached {sampled}"
        );
        assert!(
            peak.load(Ordering::SeqCst) <= CAP,
            "{model:?}: {} handlers ran at once",
            peak.load(Ordering::SeqCst)
        );
        eventually(|| handle.active_connections() == 0).await;
    });
    server.stop();
}

/// A self-signed "localhost" certificate: server config and a client config trusting it.
fn tls_pair() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("rcgen");
    let der = CertificateDer::from(cert.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let server = tcpserver::tls::server_config(vec![der.clone()], key).expect("server config");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).expect("trust cert");
    let client =
        rustls::ClientConfig::builder_with_provider(tcpserver::tls::crypto_provider().unwrap())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

/// How a hostile TLS client behaves.
#[derive(Debug, Clone, Copy)]
enum BadTls {
    /// Sends non-TLS bytes.
    Garbage,
    /// Sends the first 20 bytes of a ClientHello, then waits.
    TruncatedHello,
    /// Connects and sends nothing.
    Silent,
    /// Speaks plain HTTP.
    PlainHttp,
}

impl BadTls {
    fn bytes(self) -> Vec<u8> {
        match self {
            BadTls::Garbage => (0..1024u32).map(|i| (i * 7 + 3) as u8).collect(),
            BadTls::TruncatedHello => tls_client_hello()[..20].to_vec(),
            BadTls::Silent => Vec::new(),
            BadTls::PlainHttp => b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        }
    }

    /// Whether only the handshake timeout can end it.
    fn stalls(self) -> bool {
        matches!(self, BadTls::TruncatedHello | BadTls::Silent)
    }
}

/// Garbage, truncated and never-finished handshakes and plain text on the TLS port: each closes
/// only its own connection (stalled ones by the handshake timeout, not earlier and not much
/// later), while good TLS clients are served the whole time, and nothing stays active.
#[test]
fn hostile_tls_clients_close_only_their_own_connection() {
    for model in MODELS {
        hostile_tls_clients(model);
    }
}

fn hostile_tls_clients(model: Model) {
    let handshake_timeout = Duration::from_secs(2);
    let (server_config, client_config) = tls_pair();
    let server = Running::start(
        Server::builder("127.0.0.1:0")
            .tls(server_config)
            .handshake_timeout(handshake_timeout),
        model,
        |conn: Connection| echo_or_panic(conn),
    );
    let (addr, handle) = (server.addr, server.handle.clone());
    runtime().block_on(async {
        let started = Instant::now();
        let mut bad = Vec::new();
        for kind in [
            BadTls::Garbage,
            BadTls::TruncatedHello,
            BadTls::Silent,
            BadTls::PlainHttp,
        ] {
            for _ in 0..5 {
                // Timed from before the connect: the server's handshake clock starts later.
                let connecting = Instant::now();
                let mut stream = TcpStream::connect(addr).await.expect("connect");
                bad.push(tokio::spawn(async move {
                    let _ = stream.write_all(&kind.bytes()).await;
                    let closed = until_closed(&mut stream, PATIENCE).await;
                    (kind, closed.map(|_| connecting.elapsed()))
                }));
            }
        }
        // Good clients, one after another, while the bad ones are open: each full handshake
        // and echo must finish well before the stalled handshakes time out.
        let connector = tokio_rustls::TlsConnector::from(client_config);
        let mut good = 0;
        while started.elapsed() < handshake_timeout / 2 || good < 3 {
            let t = Instant::now();
            let tcp = TcpStream::connect(addr).await.expect("good connect");
            let name = ServerName::try_from("localhost").expect("name");
            let tls = timeout(PATIENCE, connector.connect(name, tcp))
                .await
                .expect("good handshake in time")
                .expect("good handshake");
            echo_client(tls, 3).await.expect("good TLS echo");
            assert!(
                t.elapsed() < handshake_timeout,
                "good TLS client took {:?} next to stalled handshakes",
                t.elapsed()
            );
            good += 1;
        }

        for task in bad {
            let (kind, closed_after) = task.await.expect("bad client task");
            let closed_after =
                closed_after.unwrap_or_else(|| panic!("{kind:?}: connection never closed"));
            if kind.stalls() {
                assert!(
                    closed_after >= handshake_timeout - Duration::from_millis(200)
                        && closed_after <= handshake_timeout + Duration::from_secs(5),
                    "{model:?} {kind:?}: closed after {closed_after:?}, handshake timeout \
                     {handshake_timeout:?}"
                );
            } else {
                assert!(
                    closed_after < handshake_timeout,
                    "{model:?} {kind:?}: closed only after {closed_after:?} (by the timeout, not \
                     the error)"
                );
            }
        }
        eventually(|| handle.active_connections() == 0).await;
    });
    server.stop();
}
