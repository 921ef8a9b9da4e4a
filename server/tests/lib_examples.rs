//! Runs every example binary briefly: each prints `listening on ADDR`, serves real clients and
//! exits by itself (`--max-accept N`) or on a signal.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use support::{PATIENCE, pattern, tls_connect, within};
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
    child: Child,
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
            child,
            addr,
            stdout,
        }
    }

    /// Waits (bounded) for the process to exit successfully; returns the rest of its stdout.
    async fn finish(mut self) -> String {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "example exited with {status}");
                break;
            }
            if started.elapsed() > PATIENCE {
                let _ = self.child.kill();
                panic!("example did not exit");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        rest
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    assert_eq!(
        unsafe { libc::kill(run.child.id() as i32, libc::SIGINT) },
        0
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_example() {
    for mode in [&[][..], &["--per-core"][..]] {
        let run = Running::start("hyper", mode);
        let s = within(TcpStream::connect(run.addr)).await.unwrap();
        let local = s.local_addr().unwrap();
        let mut s = tokio::io::BufReader::new(s);
        // Two requests on one keep-alive connection; the handler sees the peer address.
        for path in ["/a", "/b"] {
            s.get_mut()
                .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let out = read_response(&mut s).await;
            assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
            assert!(
                out.contains(&format!("You asked for {path} from {local}")),
                "{out}"
            );
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
            "the idle keep-alive connection held the shutdown ({:?})",
            started.elapsed()
        );
    }
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
