//! No input panics: every flag of `responder` gets a corpus of bad values, and each must end in
//! one line on stderr and exit status 2. Values a flag accepts are skipped (they would start a
//! server). `--help` is clap's text, not the struct's rustdoc.

use std::process::{Command, Output};

const RESPONDER: &str = env!("CARGO_BIN_EXE_responder");

fn run(args: &[String]) -> Output {
    Command::new(RESPONDER)
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run the responder")
}

fn assert_usage_error(args: &[String]) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown: Vec<String> = args.iter().map(|a| a.chars().take(40).collect()).collect();
    assert!(!stderr.contains("panicked"), "{shown:?} panicked: {stderr}");
    assert_eq!(out.status.code(), Some(2), "{shown:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{shown:?}: {stderr}");
    assert!(stderr.len() < 700, "{shown:?}: {} bytes", stderr.len());
}

#[test]
fn flags_refuse_bad_values() {
    let mut corpus: Vec<String> = [
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
        "127.0.0.1:99999",
        "[::1:80",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    corpus.push("x".repeat(5000));
    let flags: &[(&str, &[&str])] = &[
        ("--listen", &[]),
        ("--payload", &["0"]),
        ("--keep-alive", &[]),
        ("--sleep-ms", &["0"]),
        ("--threads", &[]),
        ("--runtime", &[]),
        ("--pin-cpus", &["0", "0,1,0"]),
        ("--cert", &[]),
        ("--key", &[]),
        ("--header-timeout-ms", &[]),
        ("--idle-timeout-ms", &[]),
    ];
    for (flag, accepted) in flags {
        for value in &corpus {
            if !accepted.contains(&value.as_str()) {
                assert_usage_error(&[format!("{flag}={value}")]);
            }
        }
    }
    for flag in ["--aes128", "--tls"] {
        assert_usage_error(&[format!("{flag}=x")]);
    }
    assert_usage_error(&["--bogus".to_string()]);
}

#[test]
fn help_is_clap_text() {
    let help = run(&["--help".to_string()]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert_eq!(help.status.code(), Some(0));
    assert!(
        text.contains("--listen") && text.contains("--pin-cpus"),
        "{text}"
    );
    assert!(
        !text.contains("```") && !text.contains("use clap"),
        "{text}"
    );
}

#[test]
fn command_line_is_consistent() {
    use clap::CommandFactory;
    tcpserver_responder::ResponderArgs::command().debug_assert();
}
