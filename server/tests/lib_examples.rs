//! Runs every example binary briefly: each prints `listening on ADDR`, serves real clients and
//! exits by itself (`--max-accept N`) or on a signal.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use support::{join_thread, pattern, tls_connect, wait_for_exit, within};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The examples' binaries, built once (a no-op when `cargo test` already built them) into the
/// same target directory and profile as this test.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf(); // target/<profile>
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let target_dir = profile_dir.parent().unwrap();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "--quiet",
            "--examples",
            "-p",
            "tcpserver-rs",
            "--target-dir",
        ])
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build --examples");
        assert!(status.success(), "building the examples failed");
    });
    profile_dir.join("examples").join(name)
}

/// A running example: the child process and its address.
struct Running {
    /// `None` once [`Running::finish`] waited for it.
    child: Option<Child>,
    addr: SocketAddr,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Running {
    fn start(name: &str, args: &[&str]) -> Running {
        let mut child = Command::new(example(name))
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{name}: unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Running {
            child: Some(child),
            addr,
            stdout,
        }
    }

    /// Waits (bounded) for the process to exit successfully; returns the rest of its stdout.
    async fn finish(mut self) -> String {
        let child = self.child.take().expect("finish is called once");
        let status = tokio::task::spawn_blocking(move || wait_for_exit(child))
            .await
            .unwrap();
        assert!(status.success(), "example exited with {status}");
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        rest
    }

    /// The example's process id.
    fn pid(&self) -> libc::pid_t {
        let child = self.child.as_ref().expect("still running");
        libc::pid_t::try_from(child.id()).unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends `data` and half-closes while reading everything the server sends back.
async fn roundtrip(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let s = within(TcpStream::connect(addr)).await.unwrap();
    let (mut r, mut w) = s.into_split();
    let write = async {
        w.write_all(data).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let mut got = Vec::new();
    let (_, n) = within(async { tokio::join!(write, r.read_to_end(&mut got)) }).await;
    n.unwrap();
    got
}

async fn echo_roundtrip(addr: SocketAddr, data: &[u8]) {
    assert!(roundtrip(addr, data).await == data, "echo is byte-exact");
}

/// A fresh directory for one test's files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpserver-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_example() {
    let data = pattern(2 * 1024 * 1024);
    for mode in [&[][..], &["--per-core"][..]] {
        let mut args = vec!["--max-accept", "2"];
        args.extend_from_slice(mode);
        let run = Running::start("echo", &args);
        echo_roundtrip(run.addr, &data).await;
        echo_roundtrip(run.addr, b"hello").await;
        run.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_tls_example() {
    let dir = temp_dir("example");
    let cert_path = dir.join("cert.pem");
    let run = Running::start(
        "echo_tls",
        &[
            "--max-accept",
            "2",
            "--cert-out",
            cert_path.to_str().unwrap(),
        ],
    );
    let pem = std::fs::read(&cert_path).unwrap();
    use tcpserver::rustls::pki_types::{CertificateDer, pem::PemObject};
    let der = CertificateDer::from_pem_slice(&pem).unwrap();
    let mut roots = tcpserver::rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let config = std::sync::Arc::new(
        tcpserver::rustls::ClientConfig::builder_with_provider(
            tcpserver::tls::crypto_provider().unwrap(),
        )
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    for i in 0..2 {
        let mut s = within(tls_connect(run.addr, &config)).await.unwrap();
        let msg = format!("tls echo {i}");
        s.write_all(msg.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; msg.len()];
        within(s.read_exact(&mut buf)).await.unwrap();
        assert_eq!(buf, msg.as_bytes());
        // Reading to the end takes in the session tickets; the second connection resumes.
        s.shutdown().await.unwrap();
        let mut rest = Vec::new();
        let _ = within(s.read_to_end(&mut rest)).await;
        if i == 1 {
            assert_eq!(
                support::handshake_kind(&s),
                Some(tcpserver::rustls::HandshakeKind::Resumed)
            );
        }
    }
    run.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Sends SIGINT to a running example.
fn interrupt(run: &Running) {
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(run.pid(), libc::SIGINT) }, 0);
}

/// Reads one HTTP/1.1 response with a `content-length` body from a keep-alive connection.
async fn read_response(s: &mut tokio::io::BufReader<TcpStream>) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        within(s.read_line(&mut line)).await.unwrap();
        assert!(!line.is_empty(), "connection closed mid-response: {head}");
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no content-length in {head}"));
    let mut body = vec![0u8; len];
    within(s.read_exact(&mut body)).await.unwrap();
    head + &String::from_utf8(body).unwrap()
}

/// An HTTP example in both runtime models: requests on one keep-alive connection, each
/// answered with a body that contains `expect(path)` where `{peer}` stands for the client's
/// address (the handler saw it); then SIGINT, and the idle keep-alive connection must not hold
/// the shutdown (the example's deadline is 120 s).
async fn http_example(name: &str, requests: &[(&str, &str)]) {
    for mode in [&[][..], &["--per-core"][..]] {
        let run = Running::start(name, mode);
        let s = within(TcpStream::connect(run.addr)).await.unwrap();
        let local = s.local_addr().unwrap();
        let mut s = tokio::io::BufReader::new(s);
        for (path, expect) in requests {
            s.get_mut()
                .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let out = read_response(&mut s).await;
            assert!(out.starts_with("HTTP/1.1 200 OK"), "{name}: {out}");
            let expect = expect.replace("{peer}", &local.to_string());
            assert!(out.contains(&expect), "{name}: {out} lacks {expect}");
        }
        // The connection is idle in keep-alive. On SIGINT the example shuts down with a
        // 120 s deadline; the connection hears of it and hyper closes it at once.
        let started = Instant::now();
        interrupt(&run);
        let mut rest = Vec::new();
        within(s.read_to_end(&mut rest)).await.unwrap();
        assert!(rest.is_empty());
        let out = run.finish().await;
        assert_eq!(out, "shutdown complete\n");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{name}: the idle keep-alive connection held the shutdown ({:?})",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_example() {
    http_example(
        "hyper",
        &[
            ("/a", "You asked for /a from {peer}"),
            ("/b", "You asked for /b from {peer}"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_example() {
    http_example(
        "axum",
        &[
            ("/hello/router", "Hello router, from {peer}"),
            ("/", "Hello World!"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_example() {
    // The upstream: echoes, then says goodbye after the client's end of stream.
    let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_addr = up.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((s, _)) = up.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.into_split();
                tokio::io::copy(&mut r, &mut w).await.unwrap();
                w.write_all(b"bye").await.unwrap();
            });
        }
    });
    let data = pattern(4 * 1024 * 1024);
    for mode in [&[][..], &["--per-core"][..]] {
        let mut args = vec!["--max-accept", "2", "--upstream", up_addr.as_str()];
        args.extend_from_slice(mode);
        let run = Running::start("proxy", &args);
        for data in [&data[..], b"hello"] {
            let got = roundtrip(run.addr, data).await;
            let mut expect = data.to_vec();
            expect.extend_from_slice(b"bye");
            assert!(got == expect, "proxied byte-exact both ways");
        }
        run.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_service_example() {
    let dir = temp_dir("unix-example");
    let path = dir.join("svc.sock");
    let run = Running::start("unix_service", &["--unix", path.to_str().unwrap()]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let s = within(tokio::net::UnixStream::connect(&path))
        .await
        .unwrap();
    let mut s = tokio::io::BufReader::new(s);
    let mut line = String::new();
    within(s.read_line(&mut line)).await.unwrap();
    assert!(
        line.starts_with("hello local uid ")
            && line.ends_with(&format!("pid Some({})\n", std::process::id())),
        "{line}"
    );
    s.get_mut().write_all(b"ping\n").await.unwrap();
    line.clear();
    within(s.read_line(&mut line)).await.unwrap();
    assert_eq!(line, "ping\n");
    // The same service on TCP.
    let t = within(TcpStream::connect(run.addr)).await.unwrap();
    let mut t = tokio::io::BufReader::new(t);
    line.clear();
    within(t.read_line(&mut line)).await.unwrap();
    assert!(line.starts_with("hello 127.0.0.1:"), "{line}");
    drop((s, t));
    interrupt(&run);
    assert_eq!(run.finish().await, "shutdown complete\n");
    assert!(!path.exists(), "the socket file is removed at exit");
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_example() {
    let run = Running::start("graceful_shutdown", &[]);
    let s = within(TcpStream::connect(run.addr)).await.unwrap();
    let mut s = tokio::io::BufReader::new(s);
    let mut line = String::new();
    within(s.read_line(&mut line)).await.unwrap();
    assert_eq!(line, "hello\n");
    // SIGINT: the server stops accepting but this connection is still served.
    interrupt(&run);
    let addr = run.addr;
    support::eventually(|| std::net::TcpStream::connect(addr).is_err()).await;
    s.get_mut().write_all(b"still here\n").await.unwrap();
    line.clear();
    within(s.read_line(&mut line)).await.unwrap();
    assert_eq!(line, "still here\n");
    drop(s);
    let rest = run.finish().await;
    assert_eq!(rest, "shutdown complete\n");
}

/// What the hand-over test hears: the example processes' stdout lines and the load's replies.
enum Event {
    Line(String),
    /// The pid that answered a `ping` on a fresh connection, or what went wrong.
    Reply(Result<u32, String>),
}

/// One `ping` on a fresh connection: the pid of the process that answered. Any refusal, reset
/// or short answer is an error.
async fn ping(addr: SocketAddr) -> Result<u32, String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    s.write_all(b"ping\n")
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .await
        .map_err(|e| format!("read: {e}"))?;
    out.strip_prefix("pong ")
        .and_then(|p| p.trim_end().parse().ok())
        .ok_or_else(|| format!("unexpected answer {out:?}"))
}

/// Kills a process by pid when dropped (the new server, which is not our child).
struct KillPid(Option<u32>);

impl Drop for KillPid {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: plain kill(2).
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

/// The listener hand-over under load: clients keep connecting while the running server hands
/// its sockets to a new process (SIGHUP). No connection is refused or reset, the new process
/// serves after the switch, and the old one finishes the connection it had open, then exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_over_example_under_load() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = temp_dir("hand-over");
    let unix = dir.join("ho.sock");
    // The shared model also listens on a Unix socket: handed over with its file.
    let unix_mode = ["--unix", unix.to_str().unwrap()];
    for mode in [&unix_mode[..], &["--per-core"][..]] {
        let mut old = Command::new(example("hand_over"))
            .args(["--addr", "127.0.0.1:0"])
            .args(mode)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let old_pid = old.id();
        let mut old_guard = KillPid(Some(old_pid));
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let stdout = BufReader::new(old.stdout.take().unwrap());
        let line_tx = tx.clone();
        // Both processes write to this pipe; it ends when both have exited.
        let reader = std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if line_tx.send(Event::Line(line)).is_err() {
                    break;
                }
            }
        });
        let mut old_exit = Some(tokio::task::spawn_blocking(move || old.wait()));
        let Some(Event::Line(first)) = within(events.recv()).await else {
            panic!("no first line");
        };
        let addr: SocketAddr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .parse()
            .unwrap();

        // A long request, open across the hand-over.
        let mut held = tokio::io::BufReader::new(within(TcpStream::connect(addr)).await.unwrap());
        held.get_mut().write_all(b"hold\n").await.unwrap();
        let mut line = String::new();
        within(held.read_line(&mut line)).await.unwrap();
        assert_eq!(line, format!("held {old_pid}\n"));

        // The load: 6 clients, one ping per connection, until told to stop (bounded).
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..6)
            .map(|_| {
                let (tx, stop) = (tx.clone(), stop.clone());
                tokio::spawn(async move {
                    for _ in 0..200_000 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        if tx.send(Event::Reply(ping(addr).await)).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        drop(tx);

        let mut new_pid = KillPid(None);
        // Answers by pid: the new process may answer before the old one has said its pid.
        let mut by_pid = std::collections::HashMap::<u32, u64>::new();
        let mut failures = Vec::new();
        let mut new_after_old_exit = 0u64;
        let (mut hup_sent, mut released, mut old_done) = (false, false, false);
        let mut new_done_line = false;
        let count = |by_pid: &std::collections::HashMap<u32, u64>, pid: Option<u32>| {
            pid.and_then(|p| by_pid.get(&p).copied()).unwrap_or(0)
        };
        while !(old_done && new_after_old_exit >= 100) {
            match within(events.recv()).await.expect("events ended") {
                Event::Reply(Ok(pid)) => {
                    *by_pid.entry(pid).or_default() += 1;
                    if old_done && Some(pid) == new_pid.0 {
                        new_after_old_exit += 1;
                    }
                }
                Event::Reply(Err(e)) => failures.push(e),
                Event::Line(l) => {
                    if let Some(pid) = l
                        .strip_prefix(&format!("pid {old_pid}: handed over to pid "))
                        .map(|p| p.parse::<u32>().unwrap())
                    {
                        new_pid.0 = Some(pid);
                    } else if l == format!("pid {old_pid}: shutdown complete") {
                        assert!(
                            released,
                            "the old process exited before its held connection ended"
                        );
                        let waiting = old_exit.take().expect("one exit");
                        let status = within(waiting).await.unwrap().unwrap();
                        old_guard.0 = None;
                        assert!(status.success(), "old process: {status}");
                        old_done = true;
                    } else if !l.starts_with("listening on ") {
                        panic!("unexpected line {l:?}");
                    }
                }
            }
            if !hup_sent && count(&by_pid, Some(old_pid)) >= 100 {
                // SAFETY: plain kill(2) on our own child.
                assert_eq!(unsafe { libc::kill(old_pid as i32, libc::SIGHUP) }, 0);
                hup_sent = true;
            }
            if !released && count(&by_pid, new_pid.0) >= 100 {
                // The old process stopped accepting, but finishes what it has.
                held.get_mut().write_all(b"release\n").await.unwrap();
                line.clear();
                within(held.read_line(&mut line)).await.unwrap();
                assert_eq!(line, format!("released {old_pid}\n"));
                released = true;
            }
        }
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            within(c).await.unwrap();
        }
        while let Ok(event) = events.try_recv() {
            match event {
                Event::Reply(Ok(pid)) => *by_pid.entry(pid).or_default() += 1,
                Event::Reply(Err(e)) => failures.push(e),
                Event::Line(l) => panic!("unexpected line {l:?}"),
            }
        }
        let new = new_pid.0.expect("the new process's pid");
        if mode == unix_mode {
            // The old process left the socket file to the new one, which serves it.
            let mut s = within(tokio::net::UnixStream::connect(&unix))
                .await
                .unwrap();
            s.write_all(b"ping\n").await.unwrap();
            let mut out = String::new();
            within(s.read_to_string(&mut out)).await.unwrap();
            assert_eq!(out, format!("pong {new}\n"));
        }
        let (by_old, by_new) = (count(&by_pid, Some(old_pid)), count(&by_pid, Some(new)));
        assert!(
            failures.is_empty(),
            "{mode:?}: {} failed of {}: {:?}",
            failures.len(),
            by_old + by_new + failures.len() as u64,
            &failures[..failures.len().min(5)]
        );
        by_pid.retain(|pid, _| *pid != old_pid && *pid != new);
        assert!(by_pid.is_empty(), "answered by other processes: {by_pid:?}");
        // The new process is not our child: stop it with SIGTERM and wait for its last line.
        // SAFETY: plain kill(2).
        assert_eq!(unsafe { libc::kill(new as i32, libc::SIGTERM) }, 0);
        while !new_done_line {
            match within(events.recv()).await {
                Some(Event::Line(l)) => {
                    new_done_line = l == format!("pid {new}: shutdown complete")
                }
                Some(Event::Reply(_)) => {}
                None => break,
            }
        }
        assert!(new_done_line, "the new process shut down cleanly");
        assert!(
            !unix.exists(),
            "the new process removed the socket file at stop"
        );
        join_thread(reader).await;
        new_pid.0 = None;
        eprintln!(
            "{mode:?}: {by_old} answered by the old process, {by_new} by the new one, 0 failed"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
