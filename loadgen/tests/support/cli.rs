//! The `loadgen` binary run the way a user runs it: [`loadgen`] whatever its exit,
//! [`loadgen_ok`] when it must succeed, [`json`] for its `-o json` output.

use std::process::{Command, Output};

/// The `loadgen` binary cargo built for these tests.
pub const LOADGEN: &str = env!("CARGO_BIN_EXE_loadgen");

/// Runs `loadgen ARGS` to the end, whatever its exit status.
pub fn loadgen(args: &[&str]) -> Output {
    Command::new(LOADGEN)
        .args(args)
        .output()
        .expect("run loadgen")
}

/// Runs `loadgen ARGS`; fails the test, showing its stderr, unless it exits 0.
pub fn loadgen_ok(args: &[&str]) -> Output {
    let out = loadgen(args);
    assert!(
        out.status.success(),
        "loadgen {args:?} exited with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A run's stdout parsed as JSON (`-o json`); fails the test, showing it, if it is not.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}
