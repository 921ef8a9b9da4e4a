//! Inherited listening sockets: a std `TcpListener` and `UnixListener` adopted in-process, a
//! non-listening socket refused, and systemd socket activation in a child process (this test
//! binary run again with the listener as fd 3 and `LISTEN_PID`/`LISTEN_FDS`/`LISTEN_FDNAMES`).

mod support;

use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::within;
use tcpserver::{Connection, Error, ListenAddr, ServerBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn hello(mut conn: Connection) {
    let _ = conn.write_all(b"hello").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopts_std_tcp_and_unix_listeners() {
    let dir = std::env::temp_dir().join(format!("tcpserver-inherited-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("u.sock");
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = tcp.local_addr().unwrap();
    let unix = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let server = ServerBuilder::new()
        .listen_inherited(tcp)
        .listen_inherited(unix)
        .build()
        .unwrap();
    assert_eq!(
        server.listen_addrs(),
        &[ListenAddr::Tcp(addr), ListenAddr::Unix(path.clone())]
    );
    let handle = server.handle();
    let task = tokio::spawn(server.serve(hello));
    let mut out = Vec::new();
    let mut s = within(tokio::net::TcpStream::connect(addr)).await.unwrap();
    within(s.read_to_end(&mut out)).await.unwrap();
    assert_eq!(out, b"hello");
    out.clear();
    let mut u = within(tokio::net::UnixStream::connect(&path))
        .await
        .unwrap();
    within(u.read_to_end(&mut out)).await.unwrap();
    assert_eq!(out, b"hello");
    handle.shutdown(Duration::ZERO);
    within(task).await.unwrap().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_socket_that_does_not_listen_is_refused() {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(matches!(
        ServerBuilder::new().listen_inherited(udp).build(),
        Err(Error::Inherited { .. })
    ));
    let connected = std::net::TcpStream::connect(
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap(),
    )
    .unwrap();
    assert!(matches!(
        ServerBuilder::new().listen_inherited(connected).build(),
        Err(Error::Inherited { .. })
    ));
}

/// Marks the child run of this binary.
const CHILD: &str = "TCPSERVER_TEST_SYSTEMD_CHILD";

/// In the child: serve the socket-activated listener; print its names and address first.
#[test]
fn systemd_child() {
    if std::env::var_os(CHILD).is_none() {
        return; // run normally: nothing to do
    }
    let fds = tcpserver::systemd_listeners().unwrap();
    let names: Vec<&str> = fds.iter().map(|(n, _)| n.as_str()).collect();
    println!("names {}", names.join(","));
    let mut builder = ServerBuilder::new().max_accept(2);
    for (_, fd) in fds {
        builder = builder.listen_inherited(fd);
    }
    let server = builder.build().unwrap();
    println!("listening on {}", server.local_addr());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(server.serve(|mut conn| async move {
        let _ = conn.write_all(b"activated").await;
    }))
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_socket_activation_in_a_child_process() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = listener.as_raw_fd();
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("sh");
    // `$$` is the shell's pid, which `exec` keeps: LISTEN_PID names the test binary.
    cmd.arg("-c")
        .arg(r#"LISTEN_PID=$$ exec "$0" "$@""#)
        .arg(&exe)
        .args([
            "--exact",
            "systemd_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD, "1")
        .env("LISTEN_FDS", "1")
        .env("LISTEN_FDNAMES", "web")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // SAFETY: dup2 and fcntl are async-signal-safe. They make the listener fd 3 without
    // close-on-exec: dup2 clears the flag on the copy, but does nothing when the listener is fd 3
    // already (then its flag is cleared with fcntl, or the child finds no fd 3).
    unsafe {
        cmd.pre_exec(move || {
            let ok = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0) == 0
            } else {
                libc::dup2(fd, 3) == 3
            };
            if !ok {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    while lines.len() < 2 {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "child ended early: {lines:?}"
        );
        // The harness's own "test systemd_child ... " may precede the child's first line.
        for marker in ["names ", "listening on "] {
            if let Some(at) = line.find(marker) {
                lines.push(line[at..].trim().to_string());
            }
        }
    }
    assert_eq!(lines[0], "names web");
    assert_eq!(lines[1], format!("listening on {addr}"));
    // This process no longer needs its copy: the child serves the same socket.
    drop(listener);
    for _ in 0..2 {
        let mut s = within(tokio::net::TcpStream::connect(addr)).await.unwrap();
        let mut out = Vec::new();
        within(s.read_to_end(&mut out)).await.unwrap();
        assert_eq!(out, b"activated");
    }
    let status = within(tokio::task::spawn_blocking(move || child.wait()))
        .await
        .unwrap()
        .unwrap();
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    assert!(status.success(), "child failed: {rest}");
    assert!(rest.contains("1 passed"), "{rest}");
}

/// A hand-over whose new process exits before it is ready fails with a typed error and leaves
/// the server serving; once the server shuts down, no hand-over is possible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_hand_over_leaves_the_server_serving() {
    let server = ServerBuilder::new()
        .listen("127.0.0.1:0")
        .adopt_handed_over() // not started by a hand-over: binds
        .build()
        .unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let task = tokio::spawn(server.serve(hello));
    // `true` ignores the sockets and exits at once, without saying it is ready.
    let err = within(handle.hand_over(Command::new("true"), Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HandOver(_)), "{err:?}");
    assert!(!handle.is_shutting_down());
    assert_eq!(support::read_all(addr).await.unwrap(), b"hello");
    handle.shutdown(Duration::ZERO);
    let err = within(handle.hand_over(Command::new("true"), Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HandOver(_)), "{err:?}");
    within(task).await.unwrap().unwrap();
}

const HAND_OVER_CHILD: &str = "TCPSERVER_TEST_HAND_OVER_CHILD";

/// In the child: build a server that adopts handed-over sockets; print what happened.
#[test]
fn hand_over_child() {
    if std::env::var_os(HAND_OVER_CHILD).is_none() {
        return; // run normally: nothing to do
    }
    match ServerBuilder::new()
        .listen("127.0.0.1:0")
        .adopt_handed_over()
        .build()
    {
        Ok(server) => println!("bound {}", server.local_addr()),
        Err(e) => println!("error {e}"),
    }
}

/// A malformed `TCPSERVER_HANDOVER` meant for this process is a typed error from `build`, not
/// a panic; one naming another parent (inherited from further up) is ignored.
#[test]
fn a_malformed_hand_over_environment_is_a_clear_error() {
    let me = std::process::id();
    for (value, expect) in [
        (
            format!("1;{me};x;"),
            "error cannot adopt the inherited socket: TCPSERVER_HANDOVER is malformed: no readiness descriptor",
        ),
        (
            format!("2;{me};4;5:-"),
            "error cannot adopt the inherited socket: TCPSERVER_HANDOVER is malformed: unknown version",
        ),
        (
            format!("1;{me};4;five:-"),
            "error cannot adopt the inherited socket: TCPSERVER_HANDOVER is malformed: five:-",
        ),
        ("1;1;4;5:-".to_string(), "bound 127.0.0.1:"),
    ] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "hand_over_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(HAND_OVER_CHILD, "1")
            .env("TCPSERVER_HANDOVER", &value)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "{value}: {}", out.status);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(expect), "{value}: {stdout}");
    }
}
