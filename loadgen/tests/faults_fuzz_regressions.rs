//! Replays the response-parser fuzz seeds and regressions (`loadgen/fuzz/seeds/http_response`,
//! `loadgen/fuzz/regressions/http_response`: inputs that once broke a property) through the
//! properties the fuzz target checks, so CI keeps them fixed without a fuzzer; and fuzzes the
//! parser once more with generated responses read at random boundaries.

#[path = "../fuzz/src/response_props.rs"]
mod response_props;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[test]
fn response_parser_seeds_and_regressions_hold_the_properties() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut failures = Vec::new();
    let mut count = 0;
    for dir in ["seeds/http_response", "regressions/http_response"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("dir entry").path();
            let input = std::fs::read(&path).expect("read input");
            if input.is_empty() {
                continue; // .keep
            }
            count += 1;
            // Every split step, both request methods.
            for flags in 0..16u8 {
                let data = [&[flags][..], &input[1..]].concat();
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| response_props::check(&data)))
                {
                    let why = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "panic".into());
                    failures.push(format!("{} (flags {flags}): {why}", path.display()));
                }
            }
        }
    }
    assert!(count > 0, "no inputs under {}", root.display());
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Generated response streams (valid, and broken by random edits) read the way a connection
/// reads them: split at random points (a seeded RNG, so a failure names the seed that
/// reproduces it). Every split must give what one read of the whole stream gives.
#[test]
fn random_read_boundaries_do_not_change_the_outcome() {
    let mut rng = StdRng::seed_from_u64(0x10ad_9e4e);
    let (mut responses, mut errors) = (0, 0);
    for _ in 0..1000 {
        let head_request = rng.random_bool(0.1);
        let wire = generate_stream(&mut rng, head_request);
        let whole = response_props::feed(&wire, usize::MAX, head_request);
        responses += whole.responses.len();
        errors += usize::from(whole.end.is_err());
        for max_read in [1, 7, 64] {
            let seed: u64 = rng.random();
            let mut reads = StdRng::seed_from_u64(seed);
            let mut sizes = std::iter::from_fn(|| Some(reads.random_range(1..=max_read)));
            let split = response_props::feed_reads(&wire, &mut sizes, head_request);
            assert_eq!(
                split,
                whole,
                "reads of 1..={max_read} bytes (seed {seed:#x}) differ from one read of {:?}",
                String::from_utf8_lossy(&wire)
            );
        }
    }
    // The generator must exercise both sides: many responses parsed, many streams rejected.
    assert!(responses > 1500, "{responses} responses parsed");
    assert!(errors > 200, "{errors} streams rejected");
}

/// One to four responses with every kind of framing, the last possibly close-delimited; then,
/// for about half of the streams, a few random edits that usually break them (bytes that matter
/// to framing are favoured).
fn generate_stream(rng: &mut StdRng, head_request: bool) -> Vec<u8> {
    let mut wire = Vec::new();
    let count = rng.random_range(1..=4);
    for i in 0..count {
        generate_response(rng, head_request, i + 1 == count, &mut wire);
    }
    if rng.random_bool(0.5) {
        const FRAMING_BYTES: &[u8] = b"\r\n \t;:,0aF\x00\x7fH";
        for _ in 0..rng.random_range(1..=3) {
            let at = rng.random_range(0..=wire.len());
            let byte = FRAMING_BYTES[rng.random_range(0..FRAMING_BYTES.len())];
            let edit = rng.random_range(0..4);
            if edit == 0 {
                wire.truncate(at);
            } else if at == wire.len() || edit == 1 {
                wire.insert(at, byte);
            } else if edit == 2 {
                wire[at] = byte;
            } else {
                wire.remove(at);
            }
        }
    }
    wire
}

fn generate_response(rng: &mut StdRng, head_request: bool, last: bool, wire: &mut Vec<u8>) {
    let pick = |rng: &mut StdRng, items: &[&'static str]| items[rng.random_range(0..items.len())];
    if rng.random_ratio(1, 6) {
        wire.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let version = if rng.random_ratio(1, 6) { "1.0" } else { "1.1" };
    let status = pick(
        rng,
        &[
            "200 OK",
            "201 Created",
            "204 No Content",
            "304 Not Modified",
            "404 Not Found",
        ],
    );
    wire.extend_from_slice(format!("HTTP/{version} {status}\r\nServer: gen\r\n").as_bytes());
    for _ in 0..rng.random_range(0..3) {
        let header = pick(
            rng,
            &[
                "Connection: close",
                "Connection: keep-alive",
                "X-Filler: HTTP/1.1 200 OK",
            ],
        );
        wire.extend_from_slice(header.as_bytes());
        wire.extend_from_slice(b"\r\n");
    }
    let has_body = !head_request && !status.starts_with("204") && !status.starts_with("304");
    let payload = |rng: &mut StdRng, len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| b"xy\r\n0;:"[rng.random_range(0..7)])
            .collect()
    };
    match rng.random_range(0..if last { 3 } else { 2 }) {
        0 => {
            let len = rng.random_range(0..200usize);
            let value = if rng.random_ratio(1, 5) {
                format!("{len}, {len}")
            } else {
                len.to_string()
            };
            wire.extend_from_slice(format!("Content-Length: {value}\r\n\r\n").as_bytes());
            if has_body {
                wire.extend(payload(rng, len));
            }
        }
        1 => {
            let coding = pick(rng, &["chunked", "gzip, chunked"]);
            wire.extend_from_slice(format!("Transfer-Encoding: {coding}\r\n\r\n").as_bytes());
            if has_body {
                for _ in 0..rng.random_range(0..4) {
                    let len = rng.random_range(1..70usize);
                    let ext = pick(rng, &["", ";a=1", " ; name=\"q v\"", ";x"]);
                    wire.extend_from_slice(format!("{len:x}{ext}\r\n").as_bytes());
                    wire.extend(payload(rng, len));
                    wire.extend_from_slice(b"\r\n");
                }
                wire.extend_from_slice(b"0\r\n");
                for _ in 0..rng.random_range(0..3) {
                    let trailer = pick(rng, &["Digest: x", "X-T:", "A: b c"]);
                    wire.extend_from_slice(trailer.as_bytes());
                    wire.extend_from_slice(b"\r\n");
                }
                wire.extend_from_slice(b"\r\n");
            }
        }
        // Close-delimited: the rest of the stream is the body.
        _ => {
            wire.extend_from_slice(b"\r\n");
            if has_body {
                let len = rng.random_range(0..300);
                wire.extend(payload(rng, len));
            }
        }
    }
}
