//! Each benchmark scenario's server settings, checked with a hyper client: status, headers, body
//! size and content, keep-alive behaviour, AES bodies that decrypt, per-request sleep.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, KeyIvInit};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use support::{PATIENCE, exchange_to_close, parse_all, runtime, start, start_on};
use tcpserver_responder::AES128_KEY;
use tokio::net::TcpStream;
use tokio::time::timeout;

/// A response as seen by hyper.
struct Seen {
    status: u16,
    content_type: Option<String>,
    connection: Option<String>,
    date: Option<String>,
    body: Bytes,
}

/// Sends `n` GETs over one hyper connection.
async fn hyper_gets(addr: SocketAddr, n: usize) -> Vec<Seen> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut out = Vec::new();
    for _ in 0..n {
        let req = Request::get("/")
            .header("host", "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        // Wait until the connection is done with the previous response (hyper refuses a
        // request sent before that: "connection was not ready").
        timeout(PATIENCE, sender.ready())
            .await
            .expect("in time")
            .expect("connection ready");
        let resp = timeout(PATIENCE, sender.send_request(req))
            .await
            .expect("in time")
            .expect("response");
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let (content_type, connection, date) =
            (header("content-type"), header("connection"), header("date"));
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        out.push(Seen {
            status,
            content_type,
            connection,
            date,
            body,
        });
    }
    out
}

/// `connections` hyper clients at once, `n` GETs each; all responses.
fn concurrent_gets(addr: SocketAddr, connections: usize, n: usize) -> Vec<Seen> {
    runtime().block_on(async {
        let tasks: Vec<_> = (0..connections)
            .map(|_| tokio::spawn(hyper_gets(addr, n)))
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    })
}

#[test]
fn default_hello_world() {
    let server = start(&[]);
    let seen = runtime().block_on(hyper_gets(server.addr, 3));
    for s in &seen {
        assert_eq!(s.status, 200);
        assert_eq!(s.body, &b"Hello World!\r\n"[..]);
        assert_eq!(s.content_type.as_deref(), Some("text/plain"));
        assert_eq!(s.connection.as_deref(), Some("keep-alive"));
        let date = s.date.as_deref().unwrap();
        assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
    }
}

#[test]
fn static_payloads_keep_alive() {
    // Scenarios 2 (1 kB) and the 128-byte body of scenario 5 (without its sleep).
    for size in [1024usize, 128] {
        let server = start(&["--payload", &size.to_string()]);
        let seen = runtime().block_on(hyper_gets(server.addr, 5));
        assert!(
            seen.iter()
                .all(|s| s.status == 200 && s.body == vec![b'a'; size])
        );
    }
}

#[test]
fn static_payloads_keep_alive_off() {
    // Scenarios 1 (1 kB) and 6 (16 kB): one response with `Connection: close`, then the close.
    for size in [1024usize, 16384] {
        let server = start(&["--payload", &size.to_string(), "--keep-alive", "off"]);
        let seen = runtime().block_on(hyper_gets(server.addr, 1));
        assert_eq!(seen[0].body.len(), size);
        assert_eq!(seen[0].connection.as_deref(), Some("close"));
        let out = exchange_to_close(server.addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        let responses = parse_all(&out);
        assert_eq!(responses.len(), 1);
        assert_eq!(responses[0].body, vec![b'a'; size]);
    }
}

fn decrypt(body: &[u8]) -> Vec<u8> {
    let (iv, ciphertext) = body.split_at(16);
    let iv: [u8; 16] = iv.try_into().unwrap();
    let mut buf = ciphertext.to_vec();
    cbc::Decryptor::<aes::Aes128>::new(&AES128_KEY.into(), &iv.into())
        .decrypt_padded::<Pkcs7>(&mut buf)
        .expect("valid padding")
        .to_vec()
}

#[test]
fn aes128_bodies_decrypt_to_the_payload() {
    // Scenarios 4 (keep-alive) and 3 (keep-alive off).
    for keep_alive in ["on", "off"] {
        let server = start(&["--payload", "1024", "--aes128", "--keep-alive", keep_alive]);
        let n = if keep_alive == "on" { 3 } else { 1 };
        let seen = runtime().block_on(hyper_gets(server.addr, n));
        let mut ivs = Vec::new();
        for s in &seen {
            assert_eq!(s.body.len(), 1056);
            assert_eq!(decrypt(&s.body), vec![b'a'; 1024]);
            ivs.push(s.body[..16].to_vec());
        }
        ivs.dedup();
        assert_eq!(ivs.len(), n, "a fresh IV per request");
    }
}

#[test]
fn sleep_delays_each_request_without_blocking_others() {
    // Scenario 5: 128 bytes after a sleep. One worker thread; 8 connections at once must overlap.
    let server = start(&["--payload", "128", "--sleep-ms", "300"]);
    let t0 = Instant::now();
    let all = concurrent_gets(server.addr, 8, 1);
    let elapsed = t0.elapsed();
    assert!(all.iter().all(|s| s.status == 200 && s.body.len() == 128));
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(8 * 300),
        "sleeps overlap: {elapsed:?}"
    );
}

#[test]
fn shared_runtime_model() {
    let server = start(&[
        "--runtime",
        "shared",
        "--threads",
        "2",
        "--payload",
        "1024",
        "--pin-cpus",
        "0",
    ]);
    let seen = concurrent_gets(server.addr, 4, 10);
    assert_eq!(seen.len(), 40);
    assert!(seen.iter().all(|s| s.status == 200 && s.body.len() == 1024));
}

#[test]
fn per_core_threads_share_the_port() {
    // Two worker threads, each with its own SO_REUSEPORT listener on the same port.
    let server = start(&["--threads", "2", "--payload", "64"]);
    let seen = concurrent_gets(server.addr, 8, 5);
    assert_eq!(seen.len(), 40);
    assert!(seen.iter().all(|s| s.status == 200 && s.body.len() == 64));
}

#[test]
fn ipv6_listener() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    }
    let server = start_on("[::1]:0", &[]);
    assert!(server.addr.is_ipv6());
    let seen = concurrent_gets(server.addr, 1, 2);
    assert!(seen.iter().all(|s| s.body == b"Hello World!\r\n"[..]));
}
