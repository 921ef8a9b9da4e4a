//! The `loadgen` binary's HTTP/2 client against a real nginx (Debian's nginx-light, `http_v2`):
//! HTTP/2 over TLS (ALPN `h2`, an rcgen certificate) and h2c with prior knowledge on a dedicated
//! cleartext `http2` port (nginx cannot serve HTTP/1.1 and h2c on one cleartext port). Counts are
//! exact with `-n` and checked twice: in loadgen's JSON and in nginx's access log, which records
//! the protocol of every request it served.
//!
//! nginx runs as a child process (no service, no root needed) on ports picked at random, since
//! nginx cannot bind port 0; a port taken meanwhile by someone else means a retry with new ones.
//! Without nginx the tests are skipped with a message (`apt-get install nginx-light`); CI installs
//! it and sets `LOADGEN_TEST_REQUIRE_NGINX=1`, which turns the skip into a failure.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BODY: &str = "Hello World!\r\n";

fn nginx_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
}

/// The nginx binary, or `None` (and a message) when the test has to be skipped.
fn nginx_or_skip(test: &str) -> Option<PathBuf> {
    let found = nginx_binary();
    if found.is_none() {
        assert!(
            std::env::var_os("LOADGEN_TEST_REQUIRE_NGINX").is_none(),
            "{test}: nginx is not installed but LOADGEN_TEST_REQUIRE_NGINX is set"
        );
        eprintln!("skipping {test}: nginx is not installed (apt-get install nginx-light)");
    }
    found
}

/// A port that was free a moment ago (nginx cannot be told to bind port 0).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// A running nginx with an HTTP/2-over-TLS port and an h2c port, in its own directory.
struct Nginx {
    child: Child,
    dir: PathBuf,
    tls_port: u16,
    h2c_port: u16,
    /// nginx's stderr (its error log), line by line.
    log: mpsc::Receiver<String>,
}

impl Nginx {
    /// Starts nginx (one process, `master_process off`) with `extra` added to its `http` block.
    fn start(binary: &Path, name: &str, extra: &str) -> Nginx {
        let dir = std::env::temp_dir().join(format!("loadgen-nginx-{}-{name}", std::process::id()));
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        let mut last_log = Vec::new();
        for _attempt in 0..8 {
            let (tls_port, h2c_port) = (free_port(), free_port());
            if tls_port == h2c_port {
                continue;
            }
            // A fresh directory per attempt (a failed attempt's is removed with it).
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("nginx dir");
            std::fs::write(dir.join("cert.pem"), key.cert.pem()).expect("write cert");
            std::fs::write(dir.join("key.pem"), key.signing_key.serialize_pem())
                .expect("write key");
            write_config(&dir, tls_port, h2c_port, extra);
            let mut child = Command::new(binary)
                .arg("-p")
                .arg(&dir)
                .arg("-c")
                .arg(dir.join("nginx.conf"))
                .args(["-e", "stderr"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn nginx");
            let (tx, log) = mpsc::channel();
            let stderr = child.stderr.take().expect("nginx stderr");
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let mut nginx = Nginx {
                child,
                dir: dir.clone(),
                tls_port,
                h2c_port,
                log,
            };
            match nginx.wait_ready() {
                Ok(()) => return nginx,
                // Someone took a port between our check and nginx's bind: new ports.
                Err(lines) if lines.iter().any(|l| l.contains("Address already in use")) => {
                    last_log = lines;
                }
                Err(lines) => panic!("nginx did not start:\n{}", lines.join("\n")),
            }
        }
        panic!("nginx never found free ports:\n{}", last_log.join("\n"));
    }

    /// Waits until both ports accept connections, or returns nginx's log if it failed (the
    /// process is then stopped).
    fn wait_ready(&mut self) -> Result<(), Vec<String>> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut lines = Vec::new();
        loop {
            let exited = self.child.try_wait().expect("try_wait nginx").is_some();
            // A failed bind is retried by nginx for seconds: give up on these ports at once.
            if exited || lines.iter().any(|l: &String| l.contains("[emerg]")) {
                self.stop();
                lines.extend(self.log.try_iter());
                return Err(lines);
            }
            let up = |port| TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up(self.tls_port) && up(self.h2c_port) {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "nginx never listened on {} and {}:\n{}",
                self.tls_port,
                self.h2c_port,
                lines.join("\n")
            );
            // Waits for nginx's next log line (an error shows up at once), or briefly before the
            // next connection attempt.
            if let Ok(line) = self.log.recv_timeout(Duration::from_millis(20)) {
                lines.push(line);
            }
        }
    }

    /// Stops nginx and waits for it: after this its access logs are complete.
    fn stop(&mut self) {
        // SIGTERM: nginx finishes the event it is handling (and its log line) and exits.
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: plain kill(2) on our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let _ = self.child.wait();
    }

    /// Requests nginx logged on one port: `(total, HTTP/2.0 with status 200)`.
    fn logged(&self, port: u16) -> (usize, usize) {
        let text = std::fs::read_to_string(self.dir.join(format!("access-{port}.log")))
            .unwrap_or_default();
        let total = text.lines().count();
        let h2_ok = text.lines().filter(|l| *l == "HTTP/2.0 200").count();
        (total, h2_ok)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_config(dir: &Path, tls_port: u16, h2c_port: u16, extra: &str) {
    let d = dir.display();
    let server = |port: u16, listen: &str| {
        format!(
            "server {{
        listen 127.0.0.1:{port} {listen};
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        access_log {d}/access-{port}.log proto;
        location / {{ return 200 \"{}\"; }}
    }}",
            BODY.escape_default()
        )
    };
    let config = format!(
        "daemon off;
master_process off;
pid {d}/nginx.pid;
error_log stderr notice;
events {{ worker_connections 4096; }}
http {{
    default_type text/plain;
    log_format proto '$server_protocol $status';
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    {extra}
    {}
    {}
}}
",
        server(tls_port, "ssl http2"),
        server(h2c_port, "http2"),
    );
    std::fs::write(dir.join("nginx.conf"), config).expect("write nginx.conf");
}

/// Runs loadgen, which must succeed, and returns its JSON report.
fn loadgen(args: &[&str]) -> serde_json::Value {
    support::json(&support::loadgen_ok(args))
}

fn errors(v: &serde_json::Value) -> u64 {
    let classes = v["result"]["errorClasses"]
        .as_object()
        .expect("errorClasses");
    classes.values().map(|c| c.as_u64().unwrap()).sum()
}

#[test]
fn http2_over_tls_and_h2c_exact_against_nginx() {
    let Some(binary) = nginx_or_skip("http2_over_tls_and_h2c_exact_against_nginx") else {
        return;
    };
    let mut nginx = Nginx::start(&binary, "exact", "keepalive_requests 100000;");
    let tls_url = format!("https://localhost:{}/", nginx.tls_port);
    let h2c_url = format!("http://127.0.0.1:{}/", nginx.h2c_port);
    let common = ["--streams", "10", "-t", "30s", "-p", "r", "-o", "json"];

    let mut args = vec!["--h2c", "-c", "4", "-n", "2003", &h2c_url];
    args.extend(common);
    let v = loadgen(&args);
    assert_eq!(v["result"]["req2xx"], 2003, "{v}");
    assert_eq!((errors(&v), v["result"]["others"].as_u64()), (0, Some(0)));
    assert_eq!(v["spec"]["protocol"], "h2c");
    assert_eq!(v["spec"]["streams"], 10);
    assert!(v["result"]["bytesRead"].as_u64().unwrap() > 2003 * BODY.len() as u64);

    let mut args = vec!["--http2", "-k", "-c", "3", "-n", "1001", "--threads", "2"];
    args.extend(common);
    args.push(&tls_url);
    let v = loadgen(&args);
    assert_eq!(v["result"]["req2xx"], 1001, "{v}");
    assert_eq!((errors(&v), v["result"]["others"].as_u64()), (0, Some(0)));
    assert_eq!(v["spec"]["protocol"], "HTTP/2");

    // nginx saw exactly those requests, every one over HTTP/2 (the reachability probes and the
    // readiness checks send no request and are not logged).
    nginx.stop();
    assert_eq!(nginx.logged(nginx.h2c_port), (2003, 2003));
    assert_eq!(nginx.logged(nginx.tls_port), (1001, 1001));
}

#[test]
fn nginx_goaway_after_keepalive_requests_is_counted_exactly() {
    let Some(binary) = nginx_or_skip("nginx_goaway_after_keepalive_requests_is_counted_exactly")
    else {
        return;
    };
    // nginx ends an HTTP/2 connection after `keepalive_requests` requests with GOAWAY; streams
    // the client opened after the last one nginx accepts are refused (never processed): loadgen
    // counts each as goAway and reconnects for the rest.
    let mut nginx = Nginx::start(&binary, "goaway", "keepalive_requests 100;");
    let url = format!("http://127.0.0.1:{}/", nginx.h2c_port);
    let v = loadgen(&[
        "--h2c",
        "--streams",
        "10",
        "-c",
        "2",
        "-n",
        "1000",
        "-t",
        "30s",
        "-p",
        "r",
        "-o",
        "json",
        &url,
    ]);
    let ok = v["result"]["req2xx"].as_u64().unwrap();
    let go_away = v["result"]["errorClasses"]["goAway"].as_u64().unwrap();
    assert_eq!((ok + go_away, errors(&v) - go_away), (1000, 0), "{v}");
    // Each connection answers 100 and refuses at most the 9 other streams then in flight.
    assert!(ok >= 900, "{v}");
    nginx.stop();
    // Every answered request was served once, every goAway one never reached a handler.
    let ok = usize::try_from(ok).unwrap();
    assert_eq!(nginx.logged(nginx.h2c_port), (ok, ok));
}
