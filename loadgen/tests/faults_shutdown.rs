//! Graceful shutdown of the tcpserver responder under loadgen keep-alive traffic: every request
//! loadgen sent gets a complete response (no read, write, parse, timeout or peer-closed error);
//! once the server stops accepting, new connections are refused (connect errors only), and the
//! server finishes well within its deadline.

mod support;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use loadgen::attack::{AttackConfig, run};
use tcpserver_responder::{Responder, ResponderArgs};

use support::{eventually, runtime};

#[test]
fn graceful_shutdown_under_loadgen_traffic_fails_no_request() {
    for model in ["per-core", "shared"] {
        // 20 ms per request: at any moment most of the 32 connections have a request in flight.
        let server = Responder::start(ResponderArgs::parse_from([
            "responder",
            "--listen",
            "127.0.0.1:0",
            "--threads",
            "2",
            "--runtime",
            model,
            "--sleep-ms",
            "20",
        ]))
        .expect("start responder");
        let handle = server.handle();
        let cfg = AttackConfig {
            url: format!("http://{}/", server.local_addr()),
            connections: 32,
            duration: Some(Duration::from_millis(1500)),
            timeout: Duration::from_secs(5),
            threads: 1,
            ..AttackConfig::default()
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(run(&cfg));
        });
        // Shut down in the middle of the run, once all 32 connections are accepted: loadgen
        // sends a request as soon as it is connected, and the responder holds each for 20 ms, so
        // requests are in flight on every connection.
        runtime().block_on(eventually(|| handle.accepted_connections() >= 32));
        let deadline = Duration::from_secs(10);
        let began = Instant::now();
        handle.shutdown(deadline);
        server.wait().expect("responder shuts down cleanly");
        let took = began.elapsed();
        let report = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("loadgen finished")
            .expect("loadgen run");
        let r = &report.result;
        let e = r.error_classes;
        assert!(r.req2xx > 0, "{model}: no traffic before the shutdown");
        assert_eq!(
            (e.timeout, e.read, e.write, e.parse, e.peer_closed),
            (0, 0, 0, 0, 0),
            "{model}: requests failed during graceful shutdown: {e:?}"
        );
        assert_eq!(
            r.req2xx, r.requests,
            "{model}: non-2xx answers during shutdown"
        );
        // Every connection got its last request answered with `Connection: close`, so the server
        // is done long before the deadline.
        assert!(
            took < Duration::from_secs(5),
            "{model}: serve returned after {took:?}"
        );
        eprintln!(
            "{model}: {} responses, {} refused reconnects after shutdown, serve returned in {took:?}",
            r.req2xx, e.connect
        );
    }
}
