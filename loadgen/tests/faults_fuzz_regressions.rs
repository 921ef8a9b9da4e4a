//! Replays the response-parser fuzz seeds and regressions (`loadgen/fuzz/seeds/http_response`,
//! `loadgen/fuzz/regressions/http_response`: inputs that once broke a property) through the
//! properties the fuzz target checks, so CI keeps them fixed without a fuzzer.

#[path = "../fuzz/src/response_props.rs"]
mod response_props;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

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
