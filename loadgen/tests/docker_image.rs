//! The Dockerfile cannot be built on CI (no Docker engine), so check what can be checked: every
//! path it copies from the build context exists, and the entrypoint's default arguments (and the
//! README's documented ones) are accepted by loadgen.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("loadgen/ has a parent")
        .to_path_buf()
}

fn dockerfile() -> String {
    std::fs::read_to_string(repo_root().join("Dockerfile")).expect("Dockerfile at the repo root")
}

/// The JSON array of an exec-form instruction such as `CMD ["--scenario", "all"]`.
fn exec_form(instruction: &str) -> Vec<String> {
    let text = dockerfile();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{instruction} ")))
        .unwrap_or_else(|| panic!("Dockerfile has no {instruction}"));
    let json = line[instruction.len()..].trim();
    serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("{instruction} is not exec form ({e}): {line}"))
}

#[test]
fn every_copied_path_exists() {
    let root = repo_root();
    let mut checked = 0;
    for line in dockerfile().lines() {
        let Some(rest) = line.strip_prefix("COPY ") else {
            continue;
        };
        let args: Vec<&str> = rest.split_whitespace().collect();
        if args.iter().any(|a| a.starts_with("--from")) {
            continue; // copies from another stage, not from the build context
        }
        let sources = &args[..args.len() - 1];
        assert!(!sources.is_empty(), "COPY without a source: {line}");
        for src in sources {
            let path = root.join(src);
            assert!(
                path.exists(),
                "Dockerfile copies {src}, which does not exist: {line}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 5,
        "expected the manifests, sources, scenarios and font to be copied"
    );
}

#[test]
fn entrypoint_is_loadgen_and_its_arguments_are_accepted() {
    assert_eq!(exec_form("ENTRYPOINT"), ["loadgen"]);
    let cmd = exec_form("CMD");
    // The default arguments, and the README's one-scenario example. `--list` makes loadgen parse
    // and validate the runner flags, then list instead of running the benchmark.
    for args in [
        cmd,
        vec![
            "--scenario".into(),
            "3".into(),
            "--duration".into(),
            "5s".into(),
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(&args)
            .arg("--list")
            .output()
            .expect("run loadgen");
        assert!(
            out.status.success(),
            "loadgen rejects {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("scenarios"));
    }
    // And a bad flag is refused, so the check above can fail.
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--scenario", "3", "--no-such-flag", "--list"])
        .output()
        .expect("run loadgen");
    assert!(!out.status.success());
}

#[test]
fn dockerignore_keeps_build_output_and_results_out() {
    let ignore = std::fs::read_to_string(repo_root().join(".dockerignore")).expect(".dockerignore");
    for entry in ["target/", "results/"] {
        assert!(
            ignore.lines().any(|l| l.trim() == entry),
            ".dockerignore lacks {entry}"
        );
    }
}
