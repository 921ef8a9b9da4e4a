//! Every listen option, read back from the socket with getsockopt.

mod support;

use std::os::fd::{AsFd, AsRawFd};

use socket2::SockRef;
use support::{read_all, spawn_shared, within};
use tcpserver::{ListenOptions, Server};
use tokio::io::AsyncWriteExt;

#[cfg(target_os = "linux")]
fn getsockopt_int(fd: &impl AsRawFd, level: libc::c_int, name: libc::c_int) -> libc::c_int {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value/len are valid for writes of their sizes.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt: {}", std::io::Error::last_os_error());
    value
}

/// The listen backlog, from `TCP_INFO` (for a listener, `tcpi_sacked` is the maximum).
#[cfg(target_os = "linux")]
fn backlog(fd: &impl AsRawFd) -> u32 {
    // SAFETY: tcp_info is plain data; len is its size.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        assert_eq!(rc, 0);
        info.tcpi_sacked
    }
}

#[cfg(target_os = "linux")]
#[test]
fn every_option_reads_back() {
    let server = Server::builder("127.0.0.1:0")
        .listen_options(
            ListenOptions::new()
                .reuse_port(true)
                .reuse_address(true)
                .nodelay(true)
                .backlog(100)
                .fast_open(77)
                .defer_accept(true),
        )
        .build()
        .unwrap();
    let fd = server.as_fd();
    let sock = SockRef::from(&fd);
    assert!(sock.reuse_port().unwrap());
    assert!(sock.reuse_address().unwrap());
    assert!(sock.tcp_nodelay().unwrap());
    assert_eq!(backlog(&fd), 100);
    assert_eq!(
        getsockopt_int(&fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN),
        77
    );
    assert!(getsockopt_int(&fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT) > 0);
}

#[cfg(target_os = "linux")]
#[test]
fn defaults_read_back() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let fd = server.as_fd();
    let sock = SockRef::from(&fd);
    assert!(!sock.reuse_port().unwrap());
    assert!(sock.reuse_address().unwrap());
    assert!(sock.tcp_nodelay().unwrap());
    assert_eq!(backlog(&fd), 1024);
    assert_eq!(
        getsockopt_int(&fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN),
        0
    );
    assert_eq!(
        getsockopt_int(&fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT),
        0
    );

    let off = Server::builder("127.0.0.1:0")
        .listen_options(ListenOptions::new().nodelay(false).reuse_address(false))
        .build()
        .unwrap();
    let sock = SockRef::from(&off);
    assert!(!sock.tcp_nodelay().unwrap());
    assert!(!sock.reuse_address().unwrap());
}

#[test]
fn only_v6_reads_back() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("IPv6 unavailable; skipping");
        return;
    }
    for v6only in [true, false] {
        let server = Server::builder("[::]:0")
            .listen_options(ListenOptions::new().only_v6(v6only))
            .build()
            .unwrap();
        assert_eq!(SockRef::from(&server).only_v6().unwrap(), v6only);
    }
}

/// Accepted sockets inherit TCP_NODELAY from the listener (the library relies on it on Linux
/// instead of a setsockopt per connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_connections_get_the_listener_nodelay() {
    for nodelay in [true, false] {
        let server = Server::builder("127.0.0.1:0")
            .listen_options(ListenOptions::new().nodelay(nodelay))
            .build()
            .unwrap();
        let addr = server.local_addr();
        let (handle, task) = spawn_shared(server, |mut conn| async move {
            let on = conn.tcp_stream().unwrap().nodelay().unwrap();
            let _ = conn.write_all(if on { b"1" } else { b"0" }).await;
        });
        let got = within(read_all(addr)).await.unwrap();
        assert_eq!(got, if nodelay { b"1" } else { b"0" });
        handle.shutdown(std::time::Duration::ZERO);
        within(task).await.unwrap().unwrap();
    }
}

#[cfg(not(target_os = "linux"))]
#[test]
fn linux_only_options_are_unsupported_elsewhere() {
    let r = Server::builder("127.0.0.1:0")
        .listen_options(ListenOptions::new().defer_accept(true))
        .build();
    assert!(matches!(r, Err(tcpserver::Error::Unsupported(_))));
    let r = Server::builder("127.0.0.1:0")
        .listen_options(ListenOptions::new().fast_open(256))
        .build();
    assert!(matches!(r, Err(tcpserver::Error::Unsupported(_))));
}

/// IPV6_V6ONLY in action: a `[::]` listener takes IPv4 clients only when it is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_v6_decides_whether_ipv4_clients_get_in() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("IPv6 unavailable; skipping");
        return;
    }
    for v6only in [false, true] {
        let server = Server::builder("[::]:0")
            .listen_options(ListenOptions::new().only_v6(v6only))
            .build()
            .unwrap();
        let v4 = std::net::SocketAddr::from(([127, 0, 0, 1], server.local_addr().port()));
        let (handle, task) = spawn_shared(server, |c| support::greet(c, b"dual"));
        let got = within(read_all(v4)).await;
        if v6only {
            assert!(got.is_err(), "IPv4 client refused by a v6-only listener");
        } else {
            assert_eq!(got.unwrap(), b"dual");
        }
        support::stop_shared(&handle, task).await;
    }
}
