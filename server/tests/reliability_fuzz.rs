//! Replays the fuzz regressions (`server/fuzz/regressions/http_request/*`, inputs that once broke
//! a property) and the malformed-request corpus through the HTTP-layer properties that the fuzz
//! target checks (`support/http_props.rs`), so CI keeps them fixed without a fuzzer;
//! and fuzzes the request parser and body decoder once more with generated streams split at
//! random read boundaries.

#![cfg(feature = "http")]

#[path = "support/http_props.rs"]
mod http_props;
mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use support::corpus::corpus;
use tcpserver::http::{BodyDecoder, BodyKind, Limits, ParseError, Parsed, parse_request};

/// Runs `check` on `input`, returning the panic message if a property broke.
fn violation(input: &[u8]) -> Option<String> {
    // The failures are collected and reported together: keep the default hook's output quiet.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    catch_unwind(AssertUnwindSafe(|| http_props::check(input)))
        .err()
        .map(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into())
        })
}

#[test]
fn fuzz_regressions_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/http_request");
    let mut failures = Vec::new();
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("regressions directory") {
        let path = entry.expect("dir entry").path();
        let input = std::fs::read(&path).expect("read regression input");
        count += 1;
        if let Some(why) = violation(&input) {
            failures.push(format!("{}: {why}", path.display()));
        }
    }
    assert!(count > 0, "no regression inputs in {}", dir.display());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_satisfies_parser_properties() {
    let mut failures = Vec::new();
    for case in corpus() {
        for pick in 0..3u8 {
            for split in [0u8, 1, 2, 5, 13, 42, 255] {
                let input = [&[pick, split][..], &case.bytes].concat();
                if let Some(why) = violation(&input) {
                    failures.push(format!(
                        "{} (limits {pick}, split {split}): {why}",
                        case.name
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Generated request streams (valid, and broken by random edits), the corpus and the fuzz
/// regressions, each read the way a connection reads them: split at random points (a seeded
/// RNG, so a failure names the seed that reproduces it). Every split must parse to what the
/// whole buffer parses to, byte for byte: the way the first fuzz finding appeared.
#[test]
fn random_read_boundaries_do_not_change_the_outcome() {
    let limits = Limits::default();
    let regressions = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/http_request");
    let mut inputs: Vec<Vec<u8>> = corpus().into_iter().map(|case| case.bytes).collect();
    for entry in std::fs::read_dir(&regressions).expect("regressions directory") {
        // Skip the two property-selector bytes of the fuzz input layout.
        let input = std::fs::read(entry.expect("dir entry").path()).expect("read regression");
        inputs.push(input.get(2..).unwrap_or_default().to_vec());
    }
    let mut rng = Rng(0x5eed_f4a3_1e5b_0d1e);
    let (mut errors, mut complete) = (0, 0);
    for seed in 0..1000u64 {
        let mut rng_for_input = Rng(seed);
        inputs.push(generate_stream(&mut rng_for_input));
    }
    for input in &inputs {
        let whole = read_stream(input, &limits, &mut std::iter::once(input.len()));
        errors += usize::from(matches!(whole.end, End::Error(_)));
        complete += whole.requests.len();
        for max_read in [1, 7, 64] {
            // Big corpus cases (up to a MiB) in bigger reads, so that re-parsing a growing head
            // after every read stays cheap.
            let max_read = max_read.max(input.len() / 512);
            let seed = rng.next();
            let mut reads = Rng(seed);
            let mut sizes = std::iter::from_fn(|| Some(reads.below(max_read) + 1));
            let split = read_stream(input, &limits, &mut sizes);
            assert_eq!(
                split,
                whole,
                "reads of 1..={max_read} bytes (seed {seed:#x}) differ from one read of {:?}",
                String::from_utf8_lossy(&input[..input.len().min(400)])
            );
        }
    }
    // The generator must exercise both sides: many requests parsed, many streams rejected.
    assert!(complete > 1500, "{complete} requests parsed");
    assert!(errors > 200, "{errors} streams rejected");
}

/// What a connection made of a byte stream.
#[derive(Debug, PartialEq)]
struct StreamOutcome {
    requests: Vec<Seen>,
    end: End,
}

/// A complete request.
#[derive(Debug, PartialEq)]
struct Seen {
    method: String,
    path: String,
    body: BodyKind,
    keep_alive: bool,
    /// Bytes of body framing and payload.
    body_bytes: usize,
}

/// How a stream ended.
#[derive(Debug, PartialEq)]
enum End {
    /// Between two requests.
    Boundary,
    /// In a request head of this many bytes so far.
    InHead(usize),
    /// In a request body.
    InBody,
    /// Rejected.
    Error(ParseError),
}

/// Reads `input` in pieces whose sizes come from `reads`, as the responder does: parse a head,
/// skip its body, repeat; unconsumed head bytes wait for the next read.
fn read_stream(
    input: &[u8],
    limits: &Limits,
    reads: &mut dyn Iterator<Item = usize>,
) -> StreamOutcome {
    let (mut buf, mut pos, mut offset) = (Vec::new(), 0, 0);
    let mut requests: Vec<Seen> = Vec::new();
    // The decoder of the body being read, and where in `input` that body starts.
    let mut body: Option<(BodyDecoder, usize)> = None;
    let end = 'read: loop {
        let take = reads.next().unwrap_or(usize::MAX).min(input.len() - offset);
        buf.extend_from_slice(&input[offset..offset + take]);
        offset += take;
        loop {
            if let Some((decoder, start)) = &mut body {
                match decoder.discard(&buf[pos..]) {
                    Ok(n) => pos += n,
                    Err(e) => break 'read End::Error(e),
                }
                if !decoder.is_done() {
                    break;
                }
                let request = requests.last_mut().expect("a body follows a head");
                request.body_bytes = offset - (buf.len() - pos) - *start;
                body = None;
            }
            if pos == buf.len() {
                break;
            }
            match parse_request(&buf[pos..], limits) {
                Ok(Parsed::Complete(req)) => {
                    pos += req.head_len();
                    let start = offset - (buf.len() - pos);
                    requests.push(Seen {
                        method: req.method().into(),
                        path: req.path().into(),
                        body: req.body(),
                        keep_alive: req.keep_alive(),
                        body_bytes: 0,
                    });
                    body = Some((BodyDecoder::new(req.body()), start));
                }
                Ok(Parsed::Partial) => break,
                Err(e) => break 'read End::Error(e),
            }
        }
        // The reader keeps only what is not consumed.
        buf.drain(..pos);
        pos = 0;
        if offset == input.len() {
            break match (&body, buf.len()) {
                (Some(_), _) => End::InBody,
                (None, 0) => End::Boundary,
                (None, n) => End::InHead(n),
            };
        }
    };
    StreamOutcome { requests, end }
}

/// A small deterministic generator (SplitMix64): the test needs reproducible streams, not
/// statistical quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One to five pipelined requests with every kind of framing, then, for about half of the
/// streams, a few random edits that usually break them (bytes that matter to framing are
/// favoured).
fn generate_stream(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..=rng.below(5) {
        generate_request(rng, &mut out);
    }
    if rng.one_in(2) {
        for _ in 0..=rng.below(3) {
            let at = rng.below(out.len() + 1);
            let byte = *rng.pick(b"\r\n \t;:,0aF\x00\x7fG");
            match rng.below(4) {
                0 if at < out.len() => out[at] = byte,
                1 if at < out.len() => {
                    out.remove(at);
                }
                2 => out.truncate(at),
                _ => out.insert(at, byte),
            }
        }
    }
    out
}

fn generate_request(rng: &mut Rng, out: &mut Vec<u8>) {
    let method = *rng.pick(&["GET", "POST", "PUT", "HEAD"]);
    let http10 = rng.one_in(6);
    let version = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
    let path = rng.below(1000);
    out.extend_from_slice(format!("{method} /{path} {version}\r\n").as_bytes());
    if !http10 || rng.one_in(2) {
        out.extend_from_slice(b"Host: example.test\r\n");
    }
    for _ in 0..rng.below(3) {
        let header = *rng.pick(&[
            "Connection: close",
            "Connection: keep-alive",
            "Accept: */*",
            "X-Filler: GET / HTTP/1.1",
            "Expect: 100-continue",
        ]);
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let payload = |rng: &mut Rng, len: usize| -> Vec<u8> {
        (0..len).map(|_| *rng.pick(b"ab\r\n0;:")).collect()
    };
    match rng.below(if http10 { 2 } else { 3 }) {
        0 => out.extend_from_slice(b"\r\n"),
        1 => {
            let len = rng.below(200);
            let value = if rng.one_in(5) {
                format!("{len}, {len}")
            } else {
                len.to_string()
            };
            out.extend_from_slice(format!("Content-Length: {value}\r\n\r\n").as_bytes());
            out.extend(payload(rng, len));
        }
        _ => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for _ in 0..rng.below(4) {
                let len = rng.below(70) + 1;
                let size = if rng.one_in(2) {
                    format!("{len:x}")
                } else {
                    format!("{len:X}")
                };
                let ext = *rng.pick(&["", ";a=1", " ; name=\"q v\"", ";x"]);
                out.extend_from_slice(format!("{size}{ext}\r\n").as_bytes());
                out.extend(payload(rng, len));
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n");
            for _ in 0..rng.below(3) {
                let trailer = *rng.pick(&["Digest: x", "X-T:", "A: b c"]);
                out.extend_from_slice(trailer.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
        }
    }
}
