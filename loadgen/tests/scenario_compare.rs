//! `loadgen compare` on real runs of the runner: the same contender (an external command template
//! around `loadgen serve tcpserver`) once as is, once with `--sleep-ms 1` added. The slowed run is
//! a regression (exit 1); a repeat of the same run is not (exit 0).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXE: &str = env!("CARGO_BIN_EXE_loadgen");

/// The contender, named the same in every run so the runs line up.
const SERVER: &str = "resp=exec {bin} serve tcpserver --listen {addr} --payload {payload} \
                      --keep-alive {keepalive} --threads {threads}";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A short run (2 repeats of 1 s, 2 connections) into its own results directory; returns the run
/// directory.
fn run(root: &Path, name: &str, extra_server_flags: &str) -> PathBuf {
    let results = root.join(name);
    let out = Command::new(EXE)
        .args(["--scenario", "ka", "--scenarios-dir"])
        .arg(root.join("scenarios"))
        .arg("--results-dir")
        .arg(&results)
        // Server threads: the default sweep (1 on a 2-CPU machine).
        .args(["--repeat", "2", "--no-plot", "--contender"])
        .arg(format!("{SERVER} {extra_server_flags}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let runs: Vec<PathBuf> = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

fn compare(base: &Path, new: &Path, flags: &[&str]) -> Output {
    Command::new(EXE)
        .arg("compare")
        .arg(base)
        .arg(new)
        .args(flags)
        .output()
        .unwrap()
}

#[test]
fn compare_exits_1_on_a_slowed_contender_and_0_on_a_repeat() {
    let root = temp_dir("compare");
    std::fs::create_dir_all(root.join("scenarios")).unwrap();
    std::fs::write(
        root.join("scenarios/ka.toml"),
        "name = \"tiny keep-alive\"\nconnections = 2\nkeep_alive = true\npayload = 1024\n\
         duration = \"1s\"\nwarmup = \"200ms\"\n",
    )
    .unwrap();
    let base = run(&root, "base", "");
    let again = run(&root, "again", "");
    // 2 connections, 1 ms per request: at most ~2,000 req/s, against tens of thousands without
    // the sleep. The threshold is wide so that a busy machine's noise never makes a regression.
    let slow = run(&root, "slow", "--sleep-ms 1");

    let out = compare(&base, &slow, &["--threshold", "50%"]);
    let text = show(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("REGRESSION") && !text.contains("\n0 regression(s)"),
        "{text}"
    );
    // Other metrics: the column says which. (Not asserted as a regression: on a busy 2-core
    // machine the baseline's p99 is scheduling delay of several ms, as large as the sleep.)
    let out = compare(&base, &slow, &["--metric", "p99"]);
    assert!(show(&out).contains("baseline p99"), "{}", show(&out));
    // The other way round it is an improvement, not a regression.
    let out = compare(&slow, &base, &["--threshold", "50%"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(show(&out).contains("improvement"), "{}", show(&out));

    // A repeat of the same run: no regression.
    let out = compare(&base, &again, &["--threshold", "50%", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["regressions"], 0, "{json:#}");
    assert_eq!(json["metric"], "rps");
    let rows = json["rows"].as_array().unwrap();
    assert!(!rows.is_empty(), "{json:#}");
    for row in rows {
        assert_eq!(row["contender"], "resp");
        assert_eq!(row["baseline"]["runs"], 2);
        assert_ne!(row["verdict"], "regression", "{json:#}");
    }

    // Trouble is exit 2 with a one-line message; a bad flag is a usage error (2).
    let out = compare(&base, &root.join("nothing-here"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let out = compare(&base, &again, &["--threshold", "lots"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let _ = std::fs::remove_dir_all(&root);
}
