//! Building a server from an address: IPv4, IPv6, names, bad input, bind conflicts.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use support::{greet, read_all, spawn_shared, within};
use tcpserver::{Error, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv4_serves_with_port_zero_resolved() {
    let server = Server::builder("127.0.0.1:0").build().unwrap();
    let addr = server.local_addr();
    assert_eq!(addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_ne!(addr.port(), 0);
    let (handle, task) = spawn_shared(server, |c| greet(c, b"v4"));
    assert_eq!(handle.local_addr(), addr);
    assert_eq!(within(read_all(addr)).await.unwrap(), b"v4");
    handle.shutdown(std::time::Duration::ZERO);
    within(task).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_serves() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("IPv6 loopback unavailable on this machine; skipping");
        return;
    }
    let server = Server::builder("[::1]:0").build().unwrap();
    let addr = server.local_addr();
    assert!(addr.is_ipv6());
    assert_ne!(addr.port(), 0);
    let (handle, task) = spawn_shared(server, |c| greet(c, b"v6"));
    assert_eq!(within(read_all(addr)).await.unwrap(), b"v6");
    handle.shutdown(std::time::Duration::ZERO);
    within(task).await.unwrap().unwrap();
}

#[test]
fn names_socket_addrs_and_tuples_resolve() {
    let s = Server::builder("localhost:0").build().unwrap();
    assert!(s.local_addr().ip().is_loopback());
    let sa: SocketAddr = "127.0.0.1:0".parse().unwrap();
    assert!(Server::builder(sa).build().is_ok());
    assert!(Server::builder((Ipv4Addr::LOCALHOST, 0)).build().is_ok());
    assert!(Server::builder(String::from("127.0.0.1:0")).build().is_ok());
}

#[test]
fn bad_addresses_are_address_errors() {
    for bad in [
        "not an address",
        "127.0.0.1",
        "127.0.0.1:99999",
        "",
        "[::1:80",
    ] {
        match Server::builder(bad).build() {
            Err(Error::Address { addr, .. }) => assert_eq!(addr, bad),
            other => panic!("{bad:?}: expected Error::Address, got {other:?}"),
        }
    }
    let msg = Server::builder("nope").build().unwrap_err().to_string();
    assert!(msg.contains("nope"), "{msg}");
}

#[test]
fn address_in_use_is_a_bind_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    match Server::builder(addr).build() {
        Err(Error::Bind { addr: a, .. }) => assert_eq!(a, addr),
        other => panic!("expected Error::Bind, got {other:?}"),
    }
}

#[test]
fn zero_loops_threads_or_connections_are_config_errors() {
    assert!(matches!(
        Server::builder("127.0.0.1:0").loops(0).build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Server::builder("127.0.0.1:0").threads(0).build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Server::builder("127.0.0.1:0").max_connections(0).build(),
        Err(Error::Config(_))
    ));
}
