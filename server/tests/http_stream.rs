//! The public sans-I/O parser on a realistic byte stream: a pipelined mix of requests split at
//! every possible point must parse to the same sequence.

#![cfg(feature = "http")]

use tcpserver::http::{BodyDecoder, BodyKind, Limits, Parsed, parse_request};

const STREAM: &[u8] = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n\
POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello\
POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
GET /d HTTP/1.0\r\n\r\n";

/// Feeds `input` in two parts, like two socket reads, and returns (path, body kind, keep-alive).
fn run(input: &[u8], split: usize) -> Vec<(String, BodyKind, bool)> {
    let limits = Limits::default();
    let mut buf = input[..split].to_vec();
    let mut rest = &input[split..];
    let mut pos = 0;
    let mut out = Vec::new();
    let mut body: Option<BodyDecoder> = None;
    loop {
        if let Some(dec) = &mut body {
            pos += dec.discard(&buf[pos..]).unwrap();
            if dec.is_done() {
                body = None;
                continue;
            }
        } else {
            match parse_request(&buf[pos..], &limits).unwrap() {
                Parsed::Complete(req) => {
                    out.push((req.path().to_string(), req.body(), req.keep_alive()));
                    pos += req.head_len();
                    body = Some(BodyDecoder::new(req.body()));
                    continue;
                }
                Parsed::Partial => {}
            }
        }
        if rest.is_empty() {
            break;
        }
        buf.extend_from_slice(rest);
        rest = &[];
    }
    assert_eq!(pos, buf.len(), "all input consumed at split {split}");
    out
}

#[test]
fn every_split_point_gives_the_same_requests() {
    let expected = vec![
        ("/a".to_string(), BodyKind::Empty, true),
        ("/b".to_string(), BodyKind::Length(5), true),
        ("/c".to_string(), BodyKind::Chunked, true),
        ("/d".to_string(), BodyKind::Empty, false),
    ];
    for split in 0..=STREAM.len() {
        assert_eq!(run(STREAM, split), expected, "split at {split}");
    }
}
