//! HTTP/1.1 pipelining (`pipeline`) and HTTP/2 (`http2`, `h2c`, `streams`) against real servers:
//! the tcpserver responder, a server closing a pipelined connection midway, hyper's HTTP/2 server
//! (TLS with ALPN and h2c prior knowledge), small `h2` servers that send GOAWAY and RST_STREAM,
//! and a hand-written HTTP/2 server for what those do not send (GOAWAY while streams finish,
//! padding, CONTINUATION, informational responses, trailers, PUSH_PROMISE, silence). Counts are
//! exact with `requests` (`-n`).

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use loadgen::attack::{AttackConfig, run};
use tcpserver_responder::{Responder, ResponderArgs};

fn config(url: String, connections: usize, n: u64) -> AttackConfig {
    AttackConfig {
        url,
        connections,
        requests: Some(n),
        threads: 1,
        timeout: Duration::from_secs(20),
        insecure: true,
        ..Default::default()
    }
}

#[test]
fn pipelined_exact_against_the_responder() {
    let argv = ["responder", "--listen", "127.0.0.1:0", "--threads", "1"];
    let server = Responder::start(ResponderArgs::parse_from(argv)).expect("start responder");
    let r = run(&AttackConfig {
        pipeline: 16,
        threads: 2,
        ..config(format!("http://{}/", server.local_addr()), 8, 5003)
    })
    .unwrap();
    assert_eq!((r.result.req2xx, r.result.error_classes.total()), (5003, 0));
    // 8 connections plus the reachability probe: pipelining never reconnects.
    assert_eq!(server.handle().accepted_connections(), 9);
    assert_eq!(r.spec.pipeline, 16);
    assert!(r.result.latency.max > 0.0);
    server.handle().shutdown(Duration::from_secs(5));
}

/// A server that reads what a connection sent first, answers up to 3 of those requests and
/// closes (FIN after the responses).
fn closing_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                let requests = loop {
                    match seen.windows(4).filter(|w| w == b"\r\n\r\n").count() {
                        0 => match conn.read(&mut buf) {
                            Ok(0) | Err(_) => return, // the reachability probe
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        },
                        k => break k,
                    }
                };
                let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                let _ = conn.write_all(&response.repeat(requests.min(3)));
                // Drain before closing, so that the kernel does not turn the close into a
                // reset that could discard the responses.
                let _ = conn.shutdown(std::net::Shutdown::Write);
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

#[test]
fn pipelined_connection_closed_midway_counts_the_rest_as_peer_closed() {
    let addr = closing_server();
    // One batch of 4 requests in one write: 3 answered, 1 lost when the server closed.
    let r = run(&AttackConfig {
        pipeline: 4,
        ..config(format!("http://{addr}/"), 1, 4)
    })
    .unwrap();
    assert_eq!(r.result.req2xx, 3, "{:?}", r.result.error_classes);
    assert_eq!(r.result.error_classes.peer_closed, 1);
    assert_eq!(r.result.error_classes.total(), 1);

    // Many connections closed midway (the client refills freed places before it sees the
    // FIN, so how many are lost varies): every request is counted exactly once.
    let r = run(&AttackConfig {
        pipeline: 8,
        ..config(format!("http://{addr}/"), 3, 200)
    })
    .unwrap();
    let e = r.result.error_classes;
    assert_eq!(r.result.req2xx + e.peer_closed, 200, "{e:?}");
    assert_eq!(e.total(), e.peer_closed, "{e:?}");
    assert!(r.result.req2xx >= 200 / 8, "{}", r.result.req2xx);
}

#[test]
fn protocol_options_are_checked() {
    let url = "http://127.0.0.1:1/".to_string();
    for cfg in [
        AttackConfig {
            pipeline: 0,
            ..config(url.clone(), 1, 1)
        },
        AttackConfig {
            streams: 4,
            ..config(url.clone(), 1, 1)
        },
        AttackConfig {
            http2: true,
            pipeline: 4,
            ..config(url.clone(), 1, 1)
        },
        AttackConfig {
            h2c: true,
            ..config("https://127.0.0.1:1/".into(), 1, 1)
        },
        AttackConfig {
            pipeline: 4,
            keep_alive: false,
            ..config(url.clone(), 1, 1)
        },
    ] {
        let e = run(&cfg).unwrap_err();
        assert!(matches!(e, loadgen::attack::AttackError::Config(_)), "{e}");
    }
}

// ---- HTTP/2 servers -------------------------------------------------------------------------

/// Runs `serve` on a new thread's current-thread runtime with a bound listener.
fn spawn_server<F, Fut>(serve: F) -> SocketAddr
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            serve(listener).await
        });
    });
    addr
}

fn tls_acceptor(alpn: &[&[u8]]) -> tokio_rustls::TlsAcceptor {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = key.cert.der().clone();
    let pkey = rustls::pki_types::PrivateKeyDer::try_from(key.signing_key.serialize_der()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], pkey)
    .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// hyper's HTTP/2 server (h1 and h2 auto-detected), over TLS or cleartext.
fn hyper_h2(tls: bool) -> SocketAddr {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    let acceptor = tls.then(|| tls_acceptor(&[b"h2", b"http/1.1"]));
    spawn_server(move |listener| async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(http_body_util::Full::new(
                        Bytes::from_static(b"Hello World!\r\n"),
                    )))
                });
                let builder = auto::Builder::new(TokioExecutor::new());
                match acceptor {
                    Some(a) => {
                        if let Ok(s) = a.accept(tcp).await {
                            let _ = builder.serve_connection(TokioIo::new(s), service).await;
                        }
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                    }
                }
            });
        }
    })
}

#[test]
fn h2c_exact_against_hyper() {
    let addr = hyper_h2(false);
    let r = run(&AttackConfig {
        h2c: true,
        streams: 10,
        threads: 2,
        ..config(format!("http://{addr}/"), 4, 3001)
    })
    .unwrap();
    assert_eq!((r.result.req2xx, r.result.error_classes.total()), (3001, 0));
    assert_eq!((r.spec.protocol.as_str(), r.spec.streams), ("h2c", 10));
    assert!(r.result.bytes_read > 3001 * 14);
}

#[test]
fn http2_over_tls_exact_against_hyper() {
    let addr = hyper_h2(true);
    let r = run(&AttackConfig {
        http2: true,
        streams: 10,
        ..config(format!("https://localhost:{}/", addr.port()), 3, 1000)
    })
    .unwrap();
    assert_eq!((r.result.req2xx, r.result.error_classes.total()), (1000, 0));
    assert_eq!(r.spec.protocol, "HTTP/2");
}

#[test]
fn h2c_bodies_larger_than_the_first_window_are_sent() {
    // 200 KB per request: more than the 65,535 bytes a stream may send before the server's
    // SETTINGS and WINDOW_UPDATEs, and split into frames of the largest size.
    let r = forty_posts_of_200_kb(hyper_h2(false));
    assert!(r.result.bytes_written > 40 * 200_000);
}

/// 40 POSTs of 200 KB over h2c, 2 connections of 4 streams: all answered 2xx, no error.
fn forty_posts_of_200_kb(addr: SocketAddr) -> loadgen::report::Report {
    let r = run(&AttackConfig {
        h2c: true,
        streams: 4,
        method: "POST".into(),
        body: vec![b'x'; 200_000],
        ..config(format!("http://{addr}/"), 2, 40)
    })
    .unwrap();
    assert_eq!(
        (r.result.req2xx, r.result.error_classes.total()),
        (40, 0),
        "{:?}",
        r.result.error_classes
    );
    r
}

#[test]
fn h2c_rate_is_kept_by_every_stream() {
    let addr = hyper_h2(false);
    let r = run(&AttackConfig {
        h2c: true,
        streams: 4,
        rate: Some(400.0),
        requests: None,
        duration: Some(Duration::from_secs(1)),
        ..config(format!("http://{addr}/"), 2, 1)
    })
    .unwrap();
    let done = r.result.req2xx;
    assert!((300..=420).contains(&done), "{done}");
    assert_eq!(r.result.error_classes.total(), 0);
    assert!(r.result.corrected_latency.is_some());
}

#[test]
fn http2_over_tls_needs_alpn_h2() {
    // An HTTP/1.1-only TLS server: every connection attempt fails as a connect error.
    let acceptor = tls_acceptor(&[b"http/1.1"]);
    let addr = spawn_server(move |listener| async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut s) = acceptor.accept(tcp).await {
                    let mut buf = [0u8; 1024];
                    let _ = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await;
                }
            });
        }
    });
    let r = run(&AttackConfig {
        http2: true,
        ..config(format!("https://localhost:{}/", addr.port()), 1, 3)
    })
    .unwrap();
    assert_eq!((r.result.req2xx, r.result.error_classes.connect), (0, 3));
}

/// An `h2` server that calls `on_request(i)` for the i-th request of each connection (from 0):
/// `Answer` responds 200, `Reset` resets the stream, `GoAway` sends GOAWAY and closes (for
/// request 0 before the first stream is read).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Act {
    Answer,
    Reset,
    GoAway,
}

async fn go_away(mut conn: h2::server::Connection<tokio::net::TcpStream, Bytes>) {
    conn.abrupt_shutdown(h2::Reason::NO_ERROR);
    while conn.accept().await.is_some() {}
    let _ = std::future::poll_fn(|cx| conn.poll_closed(cx)).await;
    // Never close the socket here: a request the client sent before it read the GOAWAY would
    // then be unread, and the kernel would answer with a reset that can overtake the GOAWAY
    // (the client would see peerClosed). The client closes the connection once it has read the
    // GOAWAY; the test process ends soon after.
    std::mem::forget(conn);
}

fn h2_server(on_request: fn(usize) -> Act) -> SocketAddr {
    spawn_server(move |listener| async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(tcp).await else {
                    return; // the reachability probe
                };
                let first = on_request(0);
                if first == Act::GoAway {
                    // Before reading any stream: GOAWAY with last stream 0 refuses them all.
                    go_away(conn).await;
                    return;
                }
                let mut i = 0;
                while let Some(Ok((_req, mut respond))) = conn.accept().await {
                    match if i == 0 { first } else { on_request(i) } {
                        Act::Answer => {
                            let response = http::Response::new(());
                            if let Ok(mut body) = respond.send_response(response, false) {
                                let _ = body.send_data(Bytes::from_static(b"ok"), true);
                            }
                        }
                        Act::Reset => respond.send_reset(h2::Reason::REFUSED_STREAM),
                        Act::GoAway => {
                            drop(respond);
                            go_away(conn).await;
                            return;
                        }
                    }
                    i += 1;
                }
            });
        }
    })
}

#[test]
fn http2_rst_stream_is_counted_and_the_connection_kept() {
    let addr = h2_server(|i| if i % 3 == 2 { Act::Reset } else { Act::Answer });
    let r = run(&AttackConfig {
        h2c: true,
        ..config(format!("http://{addr}/"), 1, 9)
    })
    .unwrap();
    assert_eq!(r.result.req2xx, 6);
    assert_eq!(r.result.error_classes.rst_stream, 3);
    assert_eq!(r.result.error_classes.total(), 3);
}

#[test]
fn http2_goaway_is_counted_and_the_client_reconnects() {
    // The first connection is refused at once with GOAWAY (last stream 0): its first request
    // fails as goAway; the client reconnects and the second connection answers the rest.
    static CONNECTIONS: AtomicUsize = AtomicUsize::new(0);
    let addr = h2_server(|i| {
        if i == 0 && CONNECTIONS.fetch_add(1, Ordering::SeqCst) == 0 {
            Act::GoAway
        } else {
            Act::Answer
        }
    });
    let r = run(&AttackConfig {
        h2c: true,
        ..config(format!("http://{addr}/"), 1, 6)
    })
    .unwrap();
    assert_eq!(r.result.req2xx, 5, "{:?}", r.result.error_classes);
    assert_eq!(
        r.result.error_classes.go_away, 1,
        "{:?}",
        r.result.error_classes
    );
    assert_eq!(r.result.error_classes.total(), 1);
}

#[test]
fn http2_server_without_an_hpack_table_is_served() {
    // The client's later requests name header fields by their place in the server's HPACK
    // table. This server asks for no table after the first request: every block after the
    // client's SETTINGS ACK must start with a size update to 0 and use no dynamic entry
    // (loona-hpack's decoder, limited to 0, checks it); the answer is 200 if so, else 500.
    let addr = raw_h2_server(|mut conn| {
        let mut decoder = loona_hpack::Decoder::new();
        let (mut requests, mut acked, mut updated) = (0, false, false);
        while let Some((head, payload)) = read_frame(&mut conn) {
            let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]);
            match head[3] {
                0x4 if head[4] & 0x1 != 0 && requests > 0 => {
                    // The ACK of our SETTINGS: the table is now limited to 0.
                    decoder.set_max_allowed_table_size(0);
                    acked = true;
                }
                H2_HEADERS => {
                    let mut ok = decoder.decode(&payload).is_ok();
                    if acked && !updated {
                        ok &= payload.first() == Some(&0x20);
                        updated = true;
                    }
                    let mut out = Vec::new();
                    if requests == 0 {
                        out = h2_frame(0x4, 0, 0, &[0, 1, 0, 0, 0, 0]); // table size 0
                    }
                    requests += 1;
                    let status = if ok { 0x88 } else { 0x8e }; // 200, 500
                    let flags = H2_END_HEADERS | H2_END_STREAM;
                    out.extend(h2_frame(H2_HEADERS, flags, stream, &[status]));
                    if conn.write_all(&out).is_err() {
                        return;
                    }
                }
                _ => {}
            }
        }
    });
    let r = run(&AttackConfig {
        h2c: true,
        ..config(format!("http://{addr}/"), 1, 6)
    })
    .unwrap();
    let e = r.result.error_classes;
    assert_eq!(
        (r.result.req2xx, r.result.req5xx, e.total()),
        (6, 0, 0),
        "{e:?}"
    );
}

/// One frame, for the hand-written server below.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A hand-written HTTP/2 server: a thread per connection runs `on_conn` once the client's
/// preface is read (a connection without one, such as the reachability probe, is dropped).
fn raw_h2_server<F>(on_conn: F) -> SocketAddr
where
    F: Fn(std::net::TcpStream) + Clone + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let on_conn = on_conn.clone();
            std::thread::spawn(move || {
                let mut preface = [0u8; 24];
                if conn.read_exact(&mut preface).is_ok() {
                    on_conn(conn);
                }
            });
        }
    });
    addr
}

/// Reads one frame: its 9-byte header and its payload; `None` once the connection ends.
fn read_frame(conn: &mut std::net::TcpStream) -> Option<([u8; 9], Vec<u8>)> {
    let mut head = [0u8; 9];
    conn.read_exact(&mut head).ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    conn.read_exact(&mut payload).ok()?;
    Some((head, payload))
}

/// A hand-written HTTP/2 server: on each connection it reads the client's frames up to its
/// `streams`-th HEADERS, writes `reply(stream ids)` and reads on until the client closes.
fn scripted_h2_server(streams: usize, reply: fn(&[u32]) -> Vec<u8>) -> SocketAddr {
    raw_h2_server(move |mut conn| {
        let mut ids = Vec::new();
        while ids.len() < streams {
            let Some((head, _)) = read_frame(&mut conn) else {
                return;
            };
            if head[3] == H2_HEADERS {
                ids.push(u32::from_be_bytes([head[5], head[6], head[7], head[8]]));
            }
        }
        let _ = conn.write_all(&reply(&ids));
        let mut buf = [0u8; 4096];
        while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
    })
}

const H2_HEADERS: u8 = 0x1;
const H2_END_STREAM: u8 = 0x1;
const H2_END_HEADERS: u8 = 0x4;
const H2_PADDED: u8 = 0x8;

#[test]
fn http2_goaway_lets_the_accepted_streams_finish() {
    // Stream 1 gets an informational 103, a padded 200, padded DATA and trailers; then GOAWAY
    // with last stream 3; stream 3 gets a header block split over a CONTINUATION frame; stream
    // 5, above GOAWAY's last stream, is never answered.
    let addr = scripted_h2_server(3, |ids| {
        assert_eq!(ids, [1, 3, 5]);
        let mut out = h2_frame(0x4, 0, 0, &[]); // SETTINGS
        // :status 103 as a literal without indexing (name: static index 8).
        let early_hints = [0x08, 3, b'1', b'0', b'3'];
        out.extend(h2_frame(H2_HEADERS, H2_END_HEADERS, 1, &early_hints));
        out.extend(h2_frame(
            H2_HEADERS,
            H2_END_HEADERS | H2_PADDED,
            1,
            &[2, 0x88, 0, 0],
        ));
        out.extend(h2_frame(0x0, H2_PADDED, 1, &[1, b'o', b'k', 0]));
        let trailers = [0x00, 1, b'x', 1, b'y'];
        out.extend(h2_frame(
            H2_HEADERS,
            H2_END_HEADERS | H2_END_STREAM,
            1,
            &trailers,
        ));
        out.extend(h2_frame(0x7, 0, 0, &[0, 0, 0, 3, 0, 0, 0, 0])); // GOAWAY, last 3
        out.extend(h2_frame(H2_HEADERS, 0, 3, &[0x88, 0x00]));
        out.extend(h2_frame(0x9, H2_END_HEADERS, 3, &[1, b'a', 1, b'b'])); // CONTINUATION
        out.extend(h2_frame(0x0, H2_END_STREAM, 3, b"ok"));
        out
    });
    let r = run(&AttackConfig {
        h2c: true,
        streams: 3,
        ..config(format!("http://{addr}/"), 1, 3)
    })
    .unwrap();
    let e = r.result.error_classes;
    assert_eq!((r.result.req2xx, r.result.req1xx), (2, 0), "{e:?}");
    assert_eq!((e.go_away, e.total()), (1, 1), "{e:?}");
}

#[test]
fn http2_timeouts_reset_the_stream_and_keep_the_connection() {
    // Nothing is ever answered: each request times out, one after the other on one connection
    // (the server reads only up to the first HEADERS, then just drains).
    let addr = scripted_h2_server(1, |_| h2_frame(0x4, 0, 0, &[]));
    let r = run(&AttackConfig {
        h2c: true,
        timeout: Duration::from_millis(200),
        ..config(format!("http://{addr}/"), 1, 2)
    })
    .unwrap();
    let e = r.result.error_classes;
    assert_eq!((e.timeout, e.total(), r.result.req2xx), (2, 2, 0), "{e:?}");
}

#[test]
fn http2_push_promise_is_a_protocol_error() {
    // Push is disabled, so a PUSH_PROMISE ends the connection; the client reconnects.
    let addr = scripted_h2_server(1, |ids| {
        let mut out = h2_frame(0x4, 0, 0, &[]);
        let mut promise = 2u32.to_be_bytes().to_vec();
        promise.push(0x82);
        out.extend(h2_frame(0x5, H2_END_HEADERS, ids[0], &promise));
        out
    });
    let r = run(&AttackConfig {
        h2c: true,
        ..config(format!("http://{addr}/"), 1, 2)
    })
    .unwrap();
    let e = r.result.error_classes;
    assert_eq!((e.protocol, e.total()), (2, 2), "{e:?}");
}

/// An `h2` server with its own settings: at most `max_streams` concurrent streams, frames up
/// to `max_frame` bytes and windows of 1 MiB; it reads each request body to the end, checks its
/// length, and answers 200 after `delay` (so that the client's streams pile up).
fn h2_server_with(max_streams: u32, max_frame: u32, delay: Duration) -> SocketAddr {
    spawn_server(move |listener| async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::Builder::new()
                    .max_concurrent_streams(max_streams)
                    .max_frame_size(max_frame)
                    .initial_window_size(1 << 20)
                    .initial_connection_window_size(1 << 20)
                    .handshake::<_, Bytes>(tcp)
                    .await
                else {
                    return; // the reachability probe
                };
                while let Some(Ok((req, mut respond))) = conn.accept().await {
                    tokio::spawn(async move {
                        let mut body = req.into_body();
                        let mut len = 0;
                        while let Some(Ok(chunk)) = body.data().await {
                            len += chunk.len();
                            let _ = body.flow_control().release_capacity(chunk.len());
                        }
                        tokio::time::sleep(delay).await;
                        let status = if len == 0 || len == 200_000 { 200 } else { 400 };
                        let response = http::Response::builder().status(status).body(()).unwrap();
                        if let Ok(mut body) = respond.send_response(response, false) {
                            let _ = body.send_data(Bytes::from_static(b"ok"), true);
                        }
                    });
                }
            });
        }
    })
}

#[test]
fn http2_max_concurrent_streams_of_the_server_is_kept() {
    // 10 streams asked for, the server allows 2: the client keeps to 2 once it has the
    // server's SETTINGS; none refused, none lost.
    let addr = h2_server_with(2, 16_384, Duration::from_millis(2));
    let r = run(&AttackConfig {
        h2c: true,
        streams: 10,
        ..config(format!("http://{addr}/"), 2, 200)
    })
    .unwrap();
    assert_eq!(
        (r.result.req2xx, r.result.error_classes.total()),
        (200, 0),
        "{:?}",
        r.result.error_classes
    );
}

#[test]
fn http2_larger_frames_allowed_by_the_server_carry_the_bodies() {
    // The server accepts frames of 1 MiB and opens 1 MiB windows: 200 KB bodies go out in
    // frames larger than the default 16 KiB (within what the server allows: h2 checks), and
    // the server checks each body's length.
    let r = forty_posts_of_200_kb(h2_server_with(100, 1 << 20, Duration::ZERO));
    // In 16 KiB frames each body would take 13 DATA frame headers of 9 bytes: all that
    // framing, with the HEADERS, preface and SETTINGS, was 5,476 bytes; in large frames 1,228.
    let framing = r.result.bytes_written - 40 * 200_000;
    assert!(framing < 40 * 13 * 9, "{framing} bytes of framing");
}
