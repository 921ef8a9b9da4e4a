//! No input panics: every flag of `loadgen` (load test, runner, `merge`, `plot`) gets the
//! bad-value corpus (shared with the responder's CLI test, `#[path]` below), and each must end in
//! one line on stderr and exit status 2. Values that a flag accepts are listed per flag (`*`: all
//! of them, `+`: all but the empty one), and must NOT exit 2: the run then fails to reach
//! 127.0.0.1:1, or `--list` prints and exits. No test here needs the network. Built without the
//! `bench` feature, the runner's flags and subcommands are refused with a message that names it.

#[path = "../../server/responder/tests/support/cli_corpus.rs"]
mod cli_corpus;

use cli_corpus::{assert_usage_error, corpus, run};

const LOADGEN: &str = env!("CARGO_BIN_EXE_loadgen");
/// Nothing listens on port 1: a run that gets past the command line fails at once.
const URL: &str = "http://127.0.0.1:1/";

/// Asserts the value got past the command line (no exit 2), without a panic.
fn assert_accepted(exe: &str, args: &[String]) {
    let out = run(exe, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert_ne!(out.status.code(), Some(2), "{args:?} refused: {stderr}");
}

/// Corpus values that are HTTP tokens (valid methods) and valid scenario ids.
const TOKENS: &[&str] = &[
    "0",
    "-1",
    "99999999999999999999",
    "NaN",
    "1e309",
    "3-1",
    "1-",
];

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// For each `(flag, accepted values)`: `flag=VALUE` for the whole corpus, plus `base` args.
fn sweep(exe: &str, flags: &[(&str, &[&str])], base: &[&str], check_accepted: bool) {
    for (flag, accepted) in flags {
        for value in corpus() {
            let mut args = vec![format!("{flag}={value}")];
            args.extend(strings(base));
            let all = accepted.contains(&"*") || (accepted.contains(&"+") && !value.is_empty());
            if all || accepted.contains(&value.as_str()) {
                if check_accepted {
                    assert_accepted(exe, &args);
                }
            } else {
                assert_usage_error(exe, &args);
            }
        }
    }
}

#[test]
fn load_test_flags_refuse_bad_values() {
    let flags: &[(&str, &[&str])] = &[
        ("--connections", &[]),
        ("--duration", &[]),
        ("--warmup", &["0"]),
        ("--requests", &[]),
        ("--rate", &[]),
        ("--timeout", &[]),
        ("--method", TOKENS),
        ("--header", &["2026-11-27T01:00:00+0é:0", "127.0.0.1:99999"]),
        ("--body", &["*"]),
        ("--body-file", &[]),
        ("--cert", &[]),
        ("--key", &[]),
        ("--print", &[]),
        ("--format", &[]),
        ("--streams", &[]),
        ("--pipeline", &[]),
        ("--threads", &[]),
        ("--cpus", &["0"]),
        ("--start-at", &["0"]),
        ("--unix-socket", &[]),
        ("--connect-to", &[]),
    ];
    sweep(LOADGEN, flags, &[URL], true);
    // Flags without values refuse one.
    for flag in [
        "--stream",
        "--insecure",
        "--disableKeepAlives",
        "--latencies",
        "--no-print",
        "--fasthttp",
        "--http1",
        "--http2",
        "--h2c",
    ] {
        assert_usage_error(LOADGEN, &[format!("{flag}=x"), URL.into()]);
    }
}

#[test]
fn urls_and_modes_are_checked_before_anything_runs() {
    for url in [
        "",
        "ftp://x/",
        "http://",
        "http://é/",
        "http://x:99999/",
        "http://[::1/",
        "http://a b/",
        "http://x/\u{7f}",
    ] {
        let out = run(LOADGEN, &strings(&["-n", "1", url]));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{url:?}");
        assert!(
            stdout.is_empty(),
            "{url:?}: the intro was printed: {stdout}"
        );
    }
    for args in [
        &["--scenario", "1", "-n", "5"][..],
        &["--list", URL],
        &["--contender", "hyper", URL],
        &["--server-threads", "1", URL],
        &["--streams", "2", URL],
        &["--pipeline", "2", "-a", URL],
        &["--streams", "2", "--pipeline", "2", URL],
        &["--h2c", "https://127.0.0.1:1/"],
        &["--fasthttp", "--http1", URL],
        &["-b", "x", "-f", "/dev/null", URL],
        &["--cert", "/dev/null", URL],
        &["--unix-socket", "/nonexistent", "--connect-to", "h:1", URL],
        &["-n", "1", "--warmup", "1s", URL],
        &["-s", "-H", "Content-Length: 1", URL],
        // A CPU this process may not run on (CPU lists allow 0 to 1023).
        &["--cpus", "1023", URL],
        &["--bogus", URL],
        &[],
    ] {
        assert_usage_error(LOADGEN, &strings(args));
    }
    // The client names and protocol options are accepted.
    for args in [
        &["--pipeline", "1", URL][..],
        &["--pipeline", "4", URL],
        &["--http2", URL],
        &["--h2c", "--streams", "8", URL],
        &["--fasthttp", URL],
        &["--http1", URL],
    ] {
        assert_accepted(LOADGEN, &strings(args));
    }
}

#[cfg(feature = "bench")]
#[test]
fn runner_flags_refuse_bad_values() {
    // Syntactically valid ids (with --list they are not looked up).
    let scenario_ids = [TOKENS, &["0,1,0"]].concat();
    let flags: &[(&str, &[&str])] = &[
        ("--scenario", &scenario_ids),
        ("--server-threads", &[]),
        ("--server-cpus", &["0"]),
        ("--client-cpus", &["0"]),
        ("--results-dir", &["+"]),
        // With --list, contenders are not looked at.
        ("--contender", &["*"]),
        ("--connections", &[]),
        ("--duration", &[]),
        ("--warmup", &["0"]),
        ("--repeat", &[]),
        ("--fail-threshold", &["0"]),
    ];
    sweep(LOADGEN, flags, &["--list"], true);
    // A scenario directory that cannot be read.
    for value in corpus() {
        assert_usage_error(
            LOADGEN,
            &[
                format!("--scenarios-dir=/nonexistent/{value}"),
                "--list".into(),
            ],
        );
    }
    // Unknown scenario ids are refused before any server starts.
    for id in ["0", "NaN", "1,0"] {
        assert_usage_error(LOADGEN, &strings(&["--scenario", id]));
    }
    // Bad contender specs too (an unavailable server CPU stops a valid one before it runs).
    for spec in ["", "0", "é", "+é", "x[nosuch]=true", "nosuch-contender"] {
        assert_usage_error(
            LOADGEN,
            &[
                "--scenario=1".into(),
                "--server-cpus=1023".into(),
                format!("--contender={spec}"),
            ],
        );
    }
    assert_usage_error(LOADGEN, &strings(&["--list=x"]));
    assert_usage_error(LOADGEN, &strings(&["--list", "--no-plot=x"]));
}

/// Without the benchmark layer, each of its flags and subcommands is one line that names the
/// missing feature, exit status 2.
#[cfg(not(feature = "bench"))]
#[test]
fn runner_flags_name_the_missing_feature() {
    for args in [
        &["--scenario", "3"][..],
        &["--scenario=3"],
        &["--list"],
        &["-d", "1s", "--server-cpus", "0", URL],
        &["--repeat=3", "--scenario", "1"],
        &["plot"],
        &["compare", "a", "b"],
        &["serve", "tcpserver", "--listen", "127.0.0.1:0"],
    ] {
        let args = strings(args);
        assert_usage_error(LOADGEN, &args);
        let stderr = String::from_utf8_lossy(&run(LOADGEN, &args).stderr).into_owned();
        assert!(
            stderr.contains("cargo feature `bench`"),
            "{args:?}: {stderr}"
        );
    }
    // Other unknown flags keep clap's message.
    let stderr =
        String::from_utf8_lossy(&run(LOADGEN, &strings(&["--bogus", URL])).stderr).into_owned();
    assert!(!stderr.contains("bench"), "{stderr}");
}

#[test]
fn merge_plot_and_compare_refuse_bad_values() {
    for value in corpus() {
        assert_usage_error(LOADGEN, &["merge".into(), format!("/nonexistent/{value}")]);
        assert_usage_error(
            LOADGEN,
            &["merge".into(), value.clone(), "/dev/null".into()],
        );
        assert_usage_error(LOADGEN, &["plot".into(), format!("/nonexistent/{value}")]);
        if !["j", "json", "pt", "plain-text"].contains(&value.as_str()) {
            assert_usage_error(
                LOADGEN,
                &[
                    "merge".into(),
                    format!("--format={value}"),
                    "/dev/null".into(),
                ],
            );
        }
    }
    for value in corpus() {
        let dir = format!("/nonexistent/{value}");
        assert_usage_error(LOADGEN, &["compare".into(), dir.clone(), dir.clone()]);
        for flag in ["--threshold", "--metric"] {
            assert_usage_error(
                LOADGEN,
                &[
                    "compare".into(),
                    format!("{flag}={value}"),
                    dir.clone(),
                    dir.clone(),
                ],
            );
        }
    }
    assert_usage_error(LOADGEN, &strings(&["compare", "--json=x", "/a", "/b"]));
    assert_usage_error(LOADGEN, &strings(&["compare", "/a"]));
    // Not a report.
    assert_usage_error(LOADGEN, &strings(&["merge", "/dev/null"]));
    assert_usage_error(LOADGEN, &strings(&["merge", "--latencies=x", "/dev/null"]));
    assert_usage_error(LOADGEN, &strings(&["merge"]));
}
