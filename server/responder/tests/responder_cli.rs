//! No input panics: every flag of `responder` gets the bad-value corpus
//! (`support/cli_corpus.rs`, shared with loadgen's CLI test), and each must end in one line on
//! stderr and exit status 2. Values a flag accepts are skipped (they would start a server).
//! `--help` is clap's text, not the struct's rustdoc.

#[path = "support/cli_corpus.rs"]
mod cli_corpus;

use cli_corpus::{corpus, run};

const RESPONDER: &str = env!("CARGO_BIN_EXE_responder");

fn assert_usage_error(args: &[String]) {
    cli_corpus::assert_usage_error(RESPONDER, args);
}

#[test]
fn flags_refuse_bad_values() {
    let flags: &[(&str, &[&str])] = &[
        ("--listen", &[]),
        ("--payload", &["0"]),
        ("--keep-alive", &[]),
        ("--sleep-ms", &["0"]),
        ("--threads", &[]),
        ("--runtime", &[]),
        ("--pin-cpus", &["0"]),
        ("--cert", &[]),
        ("--key", &[]),
        ("--header-timeout-ms", &[]),
        ("--idle-timeout-ms", &[]),
    ];
    for (flag, accepted) in flags {
        for value in corpus() {
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

/// `--pin-cpus`: a CPU twice is refused on the command line with a message that says so, and a
/// CPU this process may not run on is a clear error when the server starts (not a silent
/// filter).
#[test]
fn pin_cpus_duplicates_and_unavailable_cpus_are_errors() {
    let out = run(RESPONDER, &["--pin-cpus".into(), "0-1,1".into()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("CPU 1 is listed twice"), "{stderr}");
    let out = run(
        RESPONDER,
        &[
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--pin-cpus".into(),
            "1023".into(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--pin-cpus: CPU 1023 is not one this process may run on (allowed: "),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "it listened: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn help_is_clap_text() {
    let help = run(RESPONDER, &["--help".to_string()]);
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
