//! The responder against raw sockets: pipelining, framing, keep-alive rules, limits, malformed
//! input and slow clients.

mod support;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use support::{connect, exchange_to_close, parse_all, read_responses, read_to_close, start};

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

#[test]
fn pipelined_requests_are_answered_in_order_in_one_batch() {
    let server = start(&["--payload", "100"]);
    let mut stream = connect(server.addr);
    // 100 requests in one write, HEAD and GET interleaved: the body-less HEAD answers show the
    // order.
    let mut batch = Vec::new();
    let mut head_only = Vec::new();
    for i in 0..100 {
        let method = if i % 3 == 0 { "HEAD" } else { "GET" };
        batch.extend_from_slice(format!("{method} /{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        head_only.push(i % 3 == 0);
    }
    stream.write_all(&batch).unwrap();
    let responses = read_responses(&mut stream, &head_only);
    for (r, head) in responses.iter().zip(&head_only) {
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length"), Some("100"));
        assert_eq!(r.header("connection"), Some("keep-alive"));
        assert_eq!(r.body.len(), if *head { 0 } else { 100 });
    }
    // Still open: one more.
    stream.write_all(GET).unwrap();
    assert_eq!(read_responses(&mut stream, &[false])[0].status, 200);
}

#[test]
fn request_split_in_many_writes() {
    let server = start(&[]);
    let mut stream = connect(server.addr);
    for piece in GET.chunks(3) {
        stream.write_all(piece).unwrap();
        thread::sleep(Duration::from_millis(2));
    }
    let r = &read_responses(&mut stream, &[false])[0];
    assert_eq!(r.body, b"Hello World!\r\n");
}

#[test]
fn bodies_are_read_and_discarded() {
    let server = start(&[]);
    let mut stream = connect(server.addr);
    let big = vec![b'x'; 100_000];
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        big.len()
    )
    .into_bytes();
    req.extend_from_slice(&big);
    req.extend_from_slice(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    req.extend_from_slice(b"5\r\nhello\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n");
    req.extend_from_slice(GET);
    stream.write_all(&req).unwrap();
    let responses = read_responses(&mut stream, &[false, false, false]);
    assert!(responses.iter().all(|r| r.status == 200));
}

#[test]
fn connection_close_and_http10() {
    let server = start(&[]);
    let out = exchange_to_close(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let responses = parse_all(&out);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].header("connection"), Some("close"));

    // HTTP/1.0 closes by default...
    let out = exchange_to_close(server.addr, b"GET / HTTP/1.0\r\n\r\n");
    let responses = parse_all(&out);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].header("connection"), Some("close"));

    // ...unless it asks for keep-alive.
    let mut stream = connect(server.addr);
    let req = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    stream.write_all(req).unwrap();
    let r = &read_responses(&mut stream, &[false])[0];
    assert_eq!(r.header("connection"), Some("keep-alive"));
    stream.write_all(req).unwrap();
    assert_eq!(read_responses(&mut stream, &[false])[0].status, 200);
}

#[test]
fn keep_alive_off_answers_one_request_then_closes() {
    let server = start(&["--keep-alive", "off", "--payload", "1024"]);
    let out = exchange_to_close(server.addr, GET);
    let responses = parse_all(&out);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].header("connection"), Some("close"));
    assert_eq!(responses[0].body, vec![b'a'; 1024]);
}

#[test]
fn limits_give_414_and_431() {
    let server = start(&[]);
    let long_line = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    let out = exchange_to_close(server.addr, long_line.as_bytes());
    assert_eq!(parse_all(&out)[0].status, 414);

    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "b".repeat(20_000)
    );
    let out = exchange_to_close(server.addr, big_head.as_bytes());
    assert_eq!(parse_all(&out)[0].status, 431);

    let mut many = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for i in 0..100 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let out = exchange_to_close(server.addr, many.as_bytes());
    let responses = parse_all(&out);
    assert_eq!(responses[0].status, 431);
    assert_eq!(responses[0].header("connection"), Some("close"));
}

#[test]
fn malformed_input_gets_400_and_close_while_others_are_served() {
    let server = start(&[]);
    let mut good = connect(server.addr);
    good.write_all(GET).unwrap();
    read_responses(&mut good, &[false]);
    let cases: [(&[u8], u16); 9] = [
        (b"\x00\x01\x02\x03\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\nHost: t\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: nope\r\n\r\n", 400),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: br, chunked\r\n\r\n", 501),
    ];
    for (input, status) in cases {
        let out = exchange_to_close(server.addr, input);
        let responses = parse_all(&out);
        assert_eq!(responses.len(), 1, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(
            responses[0].status,
            status,
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(responses[0].header("connection"), Some("close"));
        // The good client is still served.
        good.write_all(GET).unwrap();
        assert_eq!(read_responses(&mut good, &[false])[0].status, 200);
    }
    // Garbage of every byte value after a valid request: one 200, then 400, never a panic.
    let mut input = GET.to_vec();
    input.extend((0..=255u8).cycle().take(5000));
    let out = exchange_to_close(server.addr, &input);
    let statuses: Vec<u16> = parse_all(&out).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 400]);
    good.write_all(GET).unwrap();
    assert_eq!(read_responses(&mut good, &[false])[0].status, 200);
}

#[test]
fn slow_request_head_times_out() {
    let server = start(&["--header-timeout-ms", "300"]);
    let t0 = Instant::now();
    let mut stream = connect(server.addr);
    stream.write_all(b"GET / HTTP/1.1\r\nHost").unwrap();
    // Keep trickling: the deadline covers the whole head, not each byte.
    let writer = stream.try_clone().unwrap();
    let trickle = thread::spawn(move || {
        let mut writer = writer;
        for _ in 0..40 {
            thread::sleep(Duration::from_millis(50));
            if writer.write_all(b"x").is_err() {
                break;
            }
        }
    });
    let out = read_to_close(&mut stream);
    let elapsed = t0.elapsed();
    let responses = parse_all(&out);
    assert_eq!(responses[0].status, 408);
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    trickle.join().unwrap();

    // An idle fresh connection is closed quietly.
    let mut idle = connect(server.addr);
    assert!(read_to_close(&mut idle).is_empty());
}
