//! Load from several hosts, merged exactly: network namespaces stand for machines. One server
//! host runs the tcpserver responder (`loadgen serve tcpserver`); three load hosts, each joined to
//! it by a veth pair, run `loadgen` with the same `--start-at`; `loadgen merge` adds their JSON
//! reports. The counts must add up exactly and the merged histogram must equal the sum of the
//! three.
//!
//! Needs `ip netns` (iproute2) and CAP_NET_ADMIN (root); where those are missing the test says so
//! and does nothing. The namespaces are removed by a guard, whatever happens.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use loadgen::report::{Report, decode_histogram};

// PATIENCE bounds every step that waits (server start, each load process).
use support::PATIENCE;

const EXE: &str = env!("CARGO_BIN_EXE_loadgen");
const LOAD_HOSTS: usize = 3;

fn ip(args: &[&str]) -> Output {
    Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running ip {args:?}: {e}"))
}

fn ip_ok(args: &[&str]) {
    let out = ip(args);
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The namespaces of this test; deleted on drop (deleting a namespace deletes its veth ends).
struct Namespaces(Vec<String>);

impl Namespaces {
    /// Creates the first namespace, or says why this machine cannot.
    fn create(first: &str) -> Result<Namespaces, String> {
        match Command::new("ip").args(["netns", "add", first]).output() {
            Err(e) => Err(format!("`ip` cannot run ({e}); install iproute2")),
            Ok(out) if !out.status.success() => Err(format!(
                "`ip netns add` failed (needs root / CAP_NET_ADMIN): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Ok(_) => Ok(Namespaces(vec![first.to_string()])),
        }
    }

    fn add(&mut self, name: &str) {
        ip_ok(&["netns", "add", name]);
        self.0.push(name.to_string());
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

/// A child process killed on drop (before the namespaces go).
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `child` to exit, at most `PATIENCE`.
fn wait_output(child: Child, what: String) -> Output {
    let (tx, rx) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(out) => out.unwrap_or_else(|e| panic!("{what}: {e}")),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{what} did not finish within {PATIENCE:?}")
        }
    }
}

#[test]
fn three_load_hosts_merge_exactly() {
    let tag = format!("lg{}", std::process::id());
    let server_ns = format!("{tag}srv");
    let mut namespaces = match Namespaces::create(&server_ns) {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED three_load_hosts_merge_exactly: {why}");
            return;
        }
    };
    ip_ok(&["-n", &server_ns, "link", "set", "lo", "up"]);
    let mut clients = Vec::new();
    for i in 1..=LOAD_HOSTS {
        let ns = format!("{tag}c{i}");
        namespaces.add(&ns);
        // Interface names stay under 16 bytes: `v<pid>s<i>` / `v<pid>c<i>`.
        let (srv_if, cli_if) = (
            format!("v{}s{i}", std::process::id()),
            format!("v{}c{i}", std::process::id()),
        );
        ip_ok(&[
            "link", "add", &srv_if, "type", "veth", "peer", "name", &cli_if,
        ]);
        ip_ok(&["link", "set", &srv_if, "netns", &server_ns]);
        ip_ok(&["link", "set", &cli_if, "netns", &ns]);
        let (srv_ip, cli_ip) = (format!("10.77.{i}.1"), format!("10.77.{i}.2"));
        ip_ok(&[
            "-n",
            &server_ns,
            "addr",
            "add",
            &format!("{srv_ip}/24"),
            "dev",
            &srv_if,
        ]);
        ip_ok(&["-n", &server_ns, "link", "set", &srv_if, "up"]);
        ip_ok(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{cli_ip}/24"),
            "dev",
            &cli_if,
        ]);
        ip_ok(&["-n", &ns, "link", "set", &cli_if, "up"]);
        ip_ok(&["-n", &ns, "link", "set", "lo", "up"]);
        clients.push((ns, srv_ip));
    }

    // The server host: the responder on every address, announcing its port.
    let mut server = Process(
        Command::new("ip")
            .args(["netns", "exec", &server_ns, EXE, "serve", "tcpserver"])
            .args(["--listen", "0.0.0.0:0", "--payload", "256"])
            .args(["--keep-alive", "on", "--threads", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the responder"),
    );
    let stdout = server.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.trim().strip_prefix("listening on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(PATIENCE)
        .expect("the responder did not print `listening on`");
    let port = addr.rsplit(':').next().unwrap().to_string();

    // The load hosts: one start time for all, a few seconds ahead (whole seconds, RFC 3339).
    let start = SystemTime::now() + Duration::from_secs(4);
    let start_secs = start.duration_since(UNIX_EPOCH).unwrap().as_secs() + 1;
    let start_at = loadgen::units::format_timestamp(UNIX_EPOCH + Duration::from_secs(start_secs));
    let loads: Vec<Child> = clients
        .iter()
        .map(|(ns, srv_ip)| {
            Command::new("ip")
                .args(["netns", "exec", ns, EXE])
                .arg(format!("http://{srv_ip}:{port}/"))
                .args(["-c", "2", "-d", "2s", "--threads", "1"])
                .args(["--start-at", &start_at, "-o", "json", "-p", "r"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starting loadgen")
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("loadgen-hosts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut reports = Vec::new();
    let mut files = Vec::new();
    for (i, child) in loads.into_iter().enumerate() {
        let out = wait_output(child, format!("loadgen on load host {}", i + 1));
        assert!(
            out.status.success(),
            "load host {}: {}",
            i + 1,
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "load host {}: {e}: {}",
                i + 1,
                String::from_utf8_lossy(&out.stdout)
            )
        });
        let file = dir.join(format!("host{}.json", i + 1));
        std::fs::write(&file, &out.stdout).unwrap();
        files.push(file);
        reports.push(report);
    }
    drop(server);

    for (i, r) in reports.iter().enumerate() {
        let what = format!("load host {}", i + 1);
        assert!(r.result.req2xx > 0, "{what}: no 2xx");
        assert_eq!(r.result.error_classes.total(), 0, "{what}: errors");
        // Each waited for the common start.
        assert!(
            r.result.started_at_unix_ms >= start_secs * 1000,
            "{what} started at {} ms, before {start_at}",
            r.result.started_at_unix_ms
        );
        assert!(
            r.result.started_at_unix_ms < start_secs * 1000 + 2000,
            "{what} started late: {} ms",
            r.result.started_at_unix_ms
        );
    }

    let merged = wait_output(
        Command::new(EXE)
            .arg("merge")
            .args(&files)
            .args(["-o", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        "loadgen merge".into(),
    );
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let merged: Report = serde_json::from_slice(&merged.stdout).unwrap();
    let sum = |f: fn(&Report) -> u64| reports.iter().map(f).sum::<u64>();
    assert_eq!(merged.result.requests, sum(|r| r.result.requests));
    assert_eq!(merged.result.req2xx, sum(|r| r.result.req2xx));
    assert_eq!(merged.result.bytes_read, sum(|r| r.result.bytes_read));
    assert_eq!(merged.result.bytes_written, sum(|r| r.result.bytes_written));
    assert_eq!(
        merged.result.error_classes.total(),
        sum(|r| r.result.error_classes.total())
    );
    assert_eq!(merged.spec.number_of_connections, 3 * 2);
    let mut expected = decode_histogram(&reports[0].result.histogram).unwrap();
    for r in &reports[1..] {
        expected
            .add(decode_histogram(&r.result.histogram).unwrap())
            .unwrap();
    }
    let got = decode_histogram(&merged.result.histogram).unwrap();
    assert_eq!(got, expected, "merged histogram != sum of the three");
    assert_eq!(got.len(), merged.result.requests);
    assert_eq!(
        merged.result.latency.percentiles["99"],
        expected.value_at_quantile(0.99)
    );
    let _ = std::fs::remove_dir_all(&dir);
    drop(namespaces);
}
