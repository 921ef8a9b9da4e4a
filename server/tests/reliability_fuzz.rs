//! Replays the fuzz regressions (`server/fuzz/regressions/http_request/*`, inputs that once broke
//! a property) and the malformed-request corpus through the HTTP-layer properties that the fuzz
//! target checks (`support/http_props.rs`), so CI keeps them fixed without a fuzzer.

#![cfg(feature = "http")]

#[path = "support/http_props.rs"]
mod http_props;
mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use support::corpus::corpus;

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
