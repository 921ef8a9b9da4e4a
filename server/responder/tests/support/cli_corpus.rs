//! The bad-value corpus of the command-line tests, and how a refusal must look: one line on
//! stderr, exit status 2, no panic. Included by path (not through `support/mod.rs`) by
//! `responder_cli.rs` and loadgen's `cli_robustness.rs`, so both command lines face the same
//! values.

use std::process::{Command, Output};

/// Values no numeric, list, address, time or path flag should take as they are: empty, signs,
/// overflow, float specials, non-ASCII, broken lists and ranges, duplicates, a bad offset, bad
/// ports, and a 5,000-byte value.
pub fn corpus() -> Vec<String> {
    let mut values: Vec<String> = [
        "",
        "0",
        "-1",
        "99999999999999999999",
        "NaN",
        "1e309",
        "é",
        "+é",
        "0,,1",
        "3-1",
        "1-",
        "0,1,0",
        "2026-11-27T01:00:00+0é:0",
        "127.0.0.1:99999",
        "[::1:80",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    values.push("x".repeat(5000));
    values
}

/// Runs `exe` with `args` (no backtraces).
pub fn run(exe: &str, args: &[String]) -> Output {
    Command::new(exe)
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run the binary")
}

/// Asserts exit status 2 and exactly one short line on stderr, no panic.
pub fn assert_usage_error(exe: &str, args: &[String]) {
    let out = run(exe, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown: Vec<String> = args.iter().map(|a| a.chars().take(40).collect()).collect();
    assert!(!stderr.contains("panicked"), "{shown:?} panicked: {stderr}");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{shown:?}: exit {:?}, stderr {stderr}",
        out.status
    );
    assert_eq!(stderr.lines().count(), 1, "{shown:?}: {stderr}");
    assert!(stderr.len() < 700, "{shown:?}: {} bytes", stderr.len());
}
