//! `Connection`: addresses, accept time, typed state, server handle, raw stream, timeouts,
//! tokio-io compatibility (vectored writes, codecs-style use).

mod support;

use std::io::IoSlice;
use std::time::{Duration, Instant};

use support::{spawn_shared, within};
use tcpserver::{Connection, Server, TimeoutExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, PartialEq)]
struct Counter(u32);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_state_handle_and_raw_stream() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let started = Instant::now();
    let (handle, task) = spawn_shared(server, move |mut conn: Connection| async move {
        let mut report = vec![
            conn.peer_addr().to_string(),
            conn.local_addr().unwrap().to_string(),
            (conn.accepted_at() >= started && conn.accepted_at() <= Instant::now()).to_string(),
            conn.server().local_addr().to_string(),
            conn.server().active_connections().to_string(),
            conn.server().accepted_connections().to_string(),
            conn.is_tls().to_string(),
            conn.tls_session().is_none().to_string(),
        ];
        let raw = conn
            .tcp_stream()
            .expect("plain connections expose the TcpStream");
        report.push(raw.peer_addr().unwrap().to_string());
        // Typed state: insert, read, mutate, replace, remove.
        assert!(conn.state::<Counter>().is_none());
        assert!(conn.insert_state(Counter(1)).is_none());
        assert!(conn.insert_state(String::from("name")).is_none());
        conn.state_mut::<Counter>().unwrap().0 += 1;
        assert_eq!(conn.state::<Counter>(), Some(&Counter(2)));
        assert_eq!(conn.insert_state(Counter(5)), Some(Counter(2)));
        assert_eq!(conn.remove_state::<Counter>(), Some(Counter(5)));
        assert!(conn.state::<Counter>().is_none());
        assert_eq!(conn.state::<String>().map(String::as_str), Some("name"));
        report.push("state-ok".into());
        let _ = conn.write_all(report.join("\n").as_bytes()).await;
    });
    let mut client = within(TcpStream::connect(addr)).await.unwrap();
    let mut out = String::new();
    within(client.read_to_string(&mut out)).await.unwrap();
    let lines: Vec<&str> = out.lines().collect();
    let client_addr = client.local_addr().unwrap().to_string();
    assert_eq!(
        lines,
        vec![
            client_addr.as_str(),
            &addr.to_string(),
            "true",
            &addr.to_string(),
            "1",
            "1",
            "false",
            "true",
            client_addr.as_str(),
            "state-ok",
        ]
    );
    support::stop_shared(&handle, task).await;
}

/// Generic tokio-io code runs over a Connection: BufReader lines, vectored writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_io_compatibility() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, |conn: Connection| async move {
        assert!(tokio::io::AsyncWrite::is_write_vectored(&conn));
        let mut reader = BufReader::new(conn);
        let mut line = String::new();
        while reader.read_line(&mut line).await.unwrap_or(0) > 0 {
            let upper = line.to_uppercase();
            let conn = reader.get_mut();
            let bufs = [IoSlice::new(b">"), IoSlice::new(upper.as_bytes())];
            let n = conn.write_vectored(&bufs).await.unwrap();
            if n < 1 + upper.len() {
                // Partial vectored write: finish the rest plainly.
                let all = [b">".as_slice(), upper.as_bytes()].concat();
                conn.write_all(&all[n..]).await.unwrap();
            }
            line.clear();
        }
    });
    let mut s = within(TcpStream::connect(addr)).await.unwrap();
    s.write_all(b"one\ntwo\n").await.unwrap();
    s.shutdown().await.unwrap();
    let mut out = String::new();
    within(s.read_to_string(&mut out)).await.unwrap();
    assert_eq!(out, ">ONE\n>TWO\n");
    support::stop_shared(&handle, task).await;
}

/// An idle read times out with `TimedOut` (slowloris defence); `TimeoutExt` bounds a whole
/// exchange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_timeout_and_timeout_ext() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    let (handle, task) = spawn_shared(server, |mut conn: Connection| async move {
        assert_eq!(conn.read_timeout(), None);
        conn.set_read_timeout(Some(Duration::from_millis(200)));
        conn.set_write_timeout(Some(Duration::from_secs(30)));
        assert_eq!(conn.read_timeout(), Some(Duration::from_millis(200)));
        assert_eq!(conn.write_timeout(), Some(Duration::from_secs(30)));
        let mut buf = [0u8; 8];
        // First read: data arrives in time.
        let n = conn.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hi");
        // Second read: the client stays silent.
        let started = Instant::now();
        let err = conn.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(190));
        // Without the idle timeout, TimeoutExt bounds the operation.
        conn.set_read_timeout(None);
        assert!(
            conn.read(&mut buf)
                .with_timeout(Duration::from_millis(100))
                .await
                .is_err()
        );
        let _ = conn.write_all(b"timed-out").await;
    });
    let mut s = within(TcpStream::connect(addr)).await.unwrap();
    s.write_all(b"hi").await.unwrap();
    let mut out = String::new();
    within(s.read_to_string(&mut out)).await.unwrap();
    assert_eq!(out, "timed-out");
    support::stop_shared(&handle, task).await;
}

/// The futures of `Connection`'s own async methods are `Send` (usable in the shared model).
#[test]
fn connection_futures_are_send() {
    fn send<T: Send>(_: T) {}
    #[allow(dead_code)]
    fn check(
        mut a: Connection,
        mut b: Connection,
        file: std::fs::File,
        config: std::sync::Arc<tcpserver::rustls::ServerConfig>,
    ) {
        send(a.send_file(&file, 0, 1));
        send(a.echo());
        send(a.splice_to(&mut b));
        send(b.start_tls(config));
        send(tcpserver::zero_copy::splice(
            a.tcp_stream().unwrap(),
            a.tcp_stream().unwrap(),
        ));
    }
    let _ = check;
}
