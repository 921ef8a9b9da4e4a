//! Runs every example binary briefly: each prints `listening on ADDR`, serves real clients and
//! exits by itself (`--max-accept N`) or on a signal.

mod lib_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use lib_support::{LONG, pattern, tls_connect, within};
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
            if started.elapsed() > LONG {
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

async fn echo_roundtrip(addr: SocketAddr, data: &[u8]) {
    let s = within(TcpStream::connect(addr)).await.unwrap();
    let (mut r, mut w) = s.into_split();
    let write = async {
        w.write_all(data).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let mut got = Vec::new();
    let (_, n) = within(async { tokio::join!(write, r.read_to_end(&mut got)) }).await;
    n.unwrap();
    assert!(got == data, "echo is byte-exact");
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
    let dir = std::env::temp_dir().join(format!("tcpserver-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
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
                lib_support::handshake_kind(&s),
                Some(tcpserver::rustls::HandshakeKind::Resumed)
            );
        }
    }
    run.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_example() {
    let run = Running::start("hyper", &["--max-accept", "1"]);
    let mut s = within(TcpStream::connect(run.addr)).await.unwrap();
    // Two requests on one keep-alive connection, then close.
    s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    within(s.read_to_string(&mut out)).await.unwrap();
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    assert!(
        out.contains("You asked for /a") && out.contains("You asked for /b"),
        "{out}"
    );
    run.finish().await;
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
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(
        unsafe { libc::kill(run.child.id() as i32, libc::SIGINT) },
        0
    );
    let addr = run.addr;
    lib_support::eventually(|| std::net::TcpStream::connect(addr).is_err()).await;
    s.get_mut().write_all(b"still here\n").await.unwrap();
    line.clear();
    within(s.read_line(&mut line)).await.unwrap();
    assert_eq!(line, "still here\n");
    drop(s);
    let rest = run.finish().await;
    assert_eq!(rest, "shutdown complete\n");
}
