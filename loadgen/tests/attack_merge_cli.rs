//! `loadgen merge` is exact, and the command line fails with one clear line.

mod support;

use std::time::Duration;

use loadgen::attack::{AttackConfig, run};
use loadgen::report::{Report, decode_histogram, merge};
use support::TestServer;

#[test]
fn merge_adds_histograms_and_counts() {
    let server = TestServer::start();
    let one = |path: &str, n| {
        run(&AttackConfig {
            url: server.url(path),
            connections: 3,
            duration: Some(Duration::from_secs(1)),
            requests: Some(n),
            threads: 1,
            ..Default::default()
        })
        .unwrap()
    };
    let (a, b) = (one("/ok", 200), one("/500", 100));
    let m = merge(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(
        (m.result.req2xx, m.result.req5xx, m.result.requests),
        (200, 100, 300)
    );
    let mut h = decode_histogram(&a.result.histogram).unwrap();
    h.add(decode_histogram(&b.result.histogram).unwrap())
        .unwrap();
    assert_eq!(decode_histogram(&m.result.histogram).unwrap(), h);
    assert_eq!(m.result.latency.max, h.max() as f64);
    assert_eq!(
        m.result.latency.percentiles["99"],
        h.value_at_quantile(0.99)
    );
    assert_eq!(m.spec.number_of_connections, 6);
}

#[test]
fn merge_sums_rates_over_the_common_interval() {
    let mk = |start: u64, samples: Vec<u64>| {
        let mut r = Report::default();
        r.result.started_at_unix_ms = start;
        r.result.rps_window_ms = 100;
        r.result.requests = samples.iter().sum();
        r.result.rps_samples = samples;
        r
    };
    // b starts 200 ms later; the common interval is the 3 windows from b's start to a's end.
    let a = mk(1_000_000, vec![10, 10, 10, 10, 10]);
    let b = mk(1_000_200, vec![5, 5, 5, 5, 5]);
    let m = merge(&[a, b]).unwrap();
    assert_eq!(m.result.rps_samples, vec![15, 15, 15]);
    assert_eq!(m.result.rps.mean, 150.0);
    assert_eq!(m.result.time_taken_seconds, 0.3);
    let c = mk(2_000_000, vec![1]);
    assert!(merge(&[mk(1_000_000, vec![1]), c]).is_err());
}

/// Runs loadgen: its exit code, stdout and stderr.
fn loadgen(args: &[&str]) -> (i32, String, String) {
    let out = support::loadgen(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_errors_are_one_line() {
    for args in [
        &["--bogus", "http://127.0.0.1:1/"][..],
        &["-d", "10x", "http://127.0.0.1:1/"],
        &["-c", "0", "-n", "1", "http://127.0.0.1:1/"],
        &["-n", "1", "http://127.0.0.1:1/"],
        &["-n", "1", "gopher://x/"],
        &[],
    ] {
        let (code, _, err) = loadgen(args);
        assert_ne!(code, 0, "{args:?}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("loadgen: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn cli_json_and_merge() {
    let server = TestServer::start();
    let dir = std::env::temp_dir().join(format!("loadgen-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for i in 0..2 {
        let (code, out, err) = loadgen(&[
            "-c",
            "2",
            "-n",
            "50",
            "--threads",
            "1",
            "-p",
            "r",
            "-o",
            "json",
            &server.url("/ok"),
        ]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["result"]["req2xx"], 50);
        assert!(v["result"]["rps"]["mean"].as_f64().unwrap() > 0.0);
        let f = dir.join(format!("{i}.json"));
        std::fs::write(&f, out).unwrap();
        files.push(f.to_string_lossy().into_owned());
    }
    let (code, out, err) = loadgen(&["merge", &files[0], &files[1]]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["result"]["req2xx"], 100);
    let (code, out, _) = loadgen(&["-c", "2", "-n", "10", "-l", &server.url("/ok")]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Bombarding") && out.contains("99.99%") && out.contains("2xx - 10"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
