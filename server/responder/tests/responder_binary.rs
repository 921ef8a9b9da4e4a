//! The `responder` binary: announces its address on stdout, serves, and exits cleanly on
//! SIGTERM and SIGINT.

#![cfg(unix)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use support::{connect, read_responses, wait_for_exit};

/// Starts the binary and returns it with the address from its `listening on` line.
fn spawn(flags: &[&str]) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_responder"))
        .args(["--listen", "127.0.0.1:0", "--threads", "1"])
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn responder");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read stdout");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("an address");
    (child, addr)
}

/// Sends `signal` and waits (bounded) for a successful exit.
fn stop(child: Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: plain kill(2) on our own child process.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let status = wait_for_exit(child);
    assert!(status.success(), "exit status {status}");
}

#[test]
fn announces_serves_and_stops_on_sigterm() {
    let (child, addr) = spawn(&["--payload", "16", "--pin-cpus", "0"]);
    let mut stream = connect(addr);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = &read_responses(&mut stream, &[false])[0];
    assert_eq!(r.body, vec![b'a'; 16]);
    stop(child, libc::SIGTERM);
}

#[test]
fn sigint_with_an_idle_keep_alive_connection() {
    let (child, addr) = spawn(&[]);
    let mut stream = connect(addr);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    read_responses(&mut stream, &[false]);
    // The idle connection is closed by the graceful-shutdown deadline at the latest.
    stop(child, libc::SIGINT);
}
