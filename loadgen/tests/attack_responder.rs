//! Against the real tcpserver responder, started in-process: exact counts with keep-alive on and
//! off, payload sizes, TLS.

use std::time::Duration;

use clap::Parser;
use loadgen::attack::{AttackConfig, run};
use tcpserver_responder::{Responder, ResponderArgs};

fn responder(extra: &[&str]) -> Responder {
    let mut argv = vec!["responder", "--listen", "127.0.0.1:0", "--threads", "1"];
    argv.extend_from_slice(extra);
    Responder::start(ResponderArgs::parse_from(argv)).expect("start responder")
}

fn attack(url: String, n: u64, keep_alive: bool) -> AttackConfig {
    AttackConfig {
        url,
        connections: 8,
        requests: Some(n),
        keep_alive,
        threads: 2,
        timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

#[test]
fn keep_alive_on_exact() {
    let server = responder(&["--payload", "1024"]);
    let r = run(&attack(
        format!("http://{}/", server.local_addr()),
        2000,
        true,
    ))
    .unwrap();
    assert_eq!((r.result.req2xx, r.result.error_classes.total()), (2000, 0));
    // 8 connections plus loadgen's one reachability probe.
    assert_eq!(server.handle().accepted_connections(), 9);
    assert!(r.result.bytes_read >= 2000 * 1024);
    server.handle().shutdown(Duration::from_secs(5));
}

#[test]
fn keep_alive_off_exact() {
    let server = responder(&["--keep-alive", "off"]);
    let r = run(&attack(
        format!("http://{}/", server.local_addr()),
        500,
        false,
    ))
    .unwrap();
    assert_eq!((r.result.req2xx, r.result.error_classes.total()), (500, 0));
    assert_eq!(server.handle().accepted_connections(), 501);
    assert!(r.result.connect_latency.is_some());
    server.handle().shutdown(Duration::from_secs(5));
}

#[test]
fn server_closing_keep_alive_is_handled() {
    // The server says `Connection: close`; the client keeps alive when it can and reconnects.
    let server = responder(&["--keep-alive", "off"]);
    let r = run(&attack(
        format!("http://{}/", server.local_addr()),
        300,
        true,
    ))
    .unwrap();
    assert_eq!((r.result.req2xx, r.result.error_classes.total()), (300, 0));
    server.handle().shutdown(Duration::from_secs(5));
}

#[test]
fn tls_insecure() {
    let server = responder(&["--tls"]);
    let mut cfg = attack(
        format!("https://localhost:{}/", server.local_addr().port()),
        200,
        true,
    );
    cfg.insecure = true;
    let r = run(&cfg).unwrap();
    assert_eq!((r.result.req2xx, r.result.error_classes.total()), (200, 0));
    server.handle().shutdown(Duration::from_secs(5));
}

#[test]
fn rate_mode_corrects_for_coordinated_omission() {
    // One connection asked for 100 req/s against a server that takes 50 ms: the sends fall
    // behind their schedule, which the corrected latency shows and the plain latency hides.
    let server = responder(&["--sleep-ms", "50"]);
    let cfg = AttackConfig {
        url: format!("http://{}/", server.local_addr()),
        connections: 1,
        threads: 1,
        rate: Some(100.0),
        duration: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let r = run(&cfg).unwrap();
    let res = &r.result;
    assert!(res.requests >= 5 && res.requests <= 21, "{}", res.requests);
    assert!(
        res.late_sends + 1 >= res.requests,
        "{} late of {}",
        res.late_sends,
        res.requests
    );
    let corrected = res.corrected_latency.as_ref().expect("corrected");
    assert!(res.latency.percentiles["50"] >= 50_000);
    assert!(
        corrected.max > 3.0 * res.latency.max,
        "corrected {} vs {}",
        corrected.max,
        res.latency.max
    );
    server.handle().shutdown(Duration::from_secs(5));
}
