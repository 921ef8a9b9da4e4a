//! Exact counts of successes, status classes and error classes against a test server that
//! misbehaves on purpose.

mod support;

use std::time::{Duration, Instant};

use loadgen::attack::{AttackConfig, AttackError, run};
use loadgen::report::{Report, decode_histogram};
use support::TestServer;

fn cfg(url: String, n: u64, connections: usize, keep_alive: bool) -> AttackConfig {
    AttackConfig {
        url,
        connections,
        requests: Some(n),
        keep_alive,
        threads: 2,
        timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

fn attempts(r: &Report) -> u64 {
    r.result.requests + r.result.error_classes.total()
}

#[test]
fn n_sends_exactly_n_with_keep_alive() {
    let server = TestServer::start();
    let r = run(&cfg(server.url("/ok"), 1000, 7, true)).unwrap();
    assert_eq!(r.result.req2xx, 1000);
    assert_eq!(r.result.requests, 1000);
    assert_eq!(r.result.error_classes.total(), 0);
    assert_eq!(r.result.in_flight_at_deadline, 0);
    assert_eq!(
        server.requests.load(std::sync::atomic::Ordering::Relaxed),
        1000
    );
    assert_eq!(decode_histogram(&r.result.histogram).unwrap().len(), 1000);
    assert_eq!(r.spec.test_type, "number-of-requests");
    // Every response is "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" (43 bytes).
    assert_eq!(r.result.bytes_read, 1000 * 43);
}

#[test]
fn n_sends_exactly_n_without_keep_alive() {
    let server = TestServer::start();
    let r = run(&cfg(server.url("/ok"), 300, 5, false)).unwrap();
    assert_eq!(r.result.req2xx, 300);
    assert_eq!(
        server.requests.load(std::sync::atomic::Ordering::Relaxed),
        300
    );
    let connect = r.result.connect_latency.expect("connect times recorded");
    assert!(connect.max > 0.0);
}

#[test]
fn body_framings() {
    let server = TestServer::start();
    for (path, keep_alive) in [
        ("/chunked", true),
        ("/chunked", false),
        ("/close", true),
        ("/big", true),
    ] {
        let r = run(&cfg(server.url(path), 40, 4, keep_alive)).unwrap();
        assert_eq!(
            r.result.req2xx, 40,
            "{path} keep-alive {keep_alive}: {:?}",
            r.result.error_classes
        );
        assert_eq!(attempts(&r), 40);
    }
}

#[test]
fn status_classes() {
    let server = TestServer::start();
    for (path, field) in [("/500", 5), ("/404", 4), ("/301", 3)] {
        let r = run(&cfg(server.url(path), 60, 3, true)).unwrap();
        let got = [
            r.result.req1xx,
            r.result.req2xx,
            r.result.req3xx,
            r.result.req4xx,
            r.result.req5xx,
        ];
        let mut want = [0; 5];
        want[field - 1] = 60;
        assert_eq!(got, want, "{path}");
        assert_eq!(r.result.requests, 60);
    }
}

#[test]
fn error_classes() {
    let server = TestServer::start();
    let r = run(&cfg(server.url("/garbage"), 30, 3, true)).unwrap();
    assert_eq!((r.result.error_classes.parse, attempts(&r)), (30, 30));
    let r = run(&cfg(server.url("/early"), 30, 3, true)).unwrap();
    assert_eq!((r.result.error_classes.peer_closed, attempts(&r)), (30, 30));

    let mut c = cfg(server.url("/stall"), 4, 4, true);
    c.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let r = run(&c).unwrap();
    assert_eq!((r.result.error_classes.timeout, attempts(&r)), (4, 4));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.result.errors[0].description, "timeout");
}

#[test]
fn unreachable_target_is_one_error() {
    // Bind then drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = run(&cfg(format!("http://127.0.0.1:{port}/"), 10, 1, true)).unwrap_err();
    assert!(matches!(err, AttackError::Unreachable { .. }), "{err}");
    let err = run(&cfg("ftp://x/".into(), 10, 1, true)).unwrap_err();
    assert!(matches!(err, AttackError::Url { .. }), "{err}");
}

#[test]
fn tls_with_insecure_and_resumption() {
    let server = TestServer::start_tls();
    let url = format!("https://localhost:{}/ok", server.addr.port());
    for keep_alive in [true, false] {
        let mut c = cfg(url.clone(), 60, 3, keep_alive);
        c.insecure = true;
        let r = run(&c).unwrap();
        assert_eq!(
            r.result.req2xx, 60,
            "keep-alive {keep_alive}: {:?}",
            r.result.error_classes
        );
    }
    // Without -k the self-signed certificate is rejected: connect errors, exactly counted.
    let r = run(&cfg(url, 5, 1, true)).unwrap();
    assert_eq!((r.result.error_classes.connect, r.result.requests), (5, 0));
    // A missing client certificate file is a setup error.
    let mut c = cfg(
        format!("https://localhost:{}/ok", server.addr.port()),
        1,
        1,
        true,
    );
    c.client_cert = Some(("/nonexistent.pem".into(), "/nonexistent.key".into()));
    assert!(matches!(run(&c), Err(AttackError::Tls(_))));
}

/// loadgen sends the request right after a non-blocking connect (on loopback the handshake is
/// already done by then). Here the connect is still under way: the listener's accept queue is
/// full, so loadgen's SYN is dropped and its socket sits in SYN_SENT. The send must then wait for
/// the handshake (after the SYN is retransmitted) instead of failing or losing the request.
#[test]
fn a_connect_still_under_way_sends_the_request_when_it_completes() {
    use std::io::{Read, Write};
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().expect("address");
    listener.bind(&any.into()).expect("bind");
    listener.listen(0).expect("listen"); // one queued connection fills the queue
    let listener: std::net::TcpListener = listener.into();
    let port = listener.local_addr().expect("port").port();
    let filler = std::net::TcpStream::connect(("127.0.0.1", port)).expect("filler connects");
    let url = format!("http://127.0.0.1:{port}/");
    let client = std::thread::spawn(move || {
        run(&AttackConfig {
            url,
            connections: 1,
            requests: Some(1),
            keep_alive: false,
            threads: 1,
            timeout: Duration::from_secs(30),
            ..Default::default()
        })
    });
    let rt = support::runtime();
    // First loadgen's reachability probe (a blocking connect, closed at once), then its
    // connection: each one's SYN is dropped while the queue holds the one before.
    let mut probe_port = None;
    rt.block_on(support::eventually(|| {
        probe_port = syn_sent_to(port, None);
        probe_port.is_some()
    }));
    drop((listener.accept().expect("the filler"), filler));
    rt.block_on(support::eventually(|| {
        syn_sent_to(port, probe_port).is_some()
    }));
    drop(listener.accept().expect("the probe"));
    let (mut conn, _) = listener.accept().expect("loadgen's connection");
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        let n = conn.read(&mut buf).expect("read the request");
        assert!(n > 0, "connection closed before the request: {head:?}");
        head.extend_from_slice(&buf[..n]);
    }
    assert!(
        head.starts_with(b"GET / HTTP/1.1\r\n"),
        "request: {}",
        String::from_utf8_lossy(&head)
    );
    conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        .expect("respond");
    drop(conn);
    let r = client.join().expect("client thread").expect("run");
    assert_eq!(r.result.req2xx, 1);
    assert_eq!(r.result.error_classes.total(), 0);
}

/// The local port of a socket of this machine in SYN_SENT towards 127.0.0.1:`port`, other than
/// `except`.
fn syn_sent_to(port: u16, except: Option<u16>) -> Option<u16> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let remote = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() <= 3 || fields[2] != remote || fields[3] != "02" {
            return None;
        }
        let local = u16::from_str_radix(fields[1].rsplit(':').next()?, 16).ok()?;
        (Some(local) != except).then_some(local)
    })
}
