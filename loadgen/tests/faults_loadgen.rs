//! loadgen against a misbehaving server: every fault lands in exactly the expected error class,
//! with exact counts, and a run never hangs past its deadline plus the timeout, never panics.
//!
//! The server (`support/fault_server.rs`) counts the requests it read, so "exact" means: the number of
//! requests loadgen was told to send, all of them read by the server, each answered with the
//! fault, each counted once in the report.

mod support;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use loadgen::attack::{AttackConfig, AttackError, run};
use loadgen::report::{ErrorClasses, Report};
use support::{Fault, FaultServer};

/// Requests per exact-count test (spread over [`CONNECTIONS`]).
const REQUESTS: u64 = 40;
const CONNECTIONS: usize = 4;
/// Upper bound for a whole run on a loaded 2-core machine (a hang fails the test, not CI).
const WATCHDOG: Duration = Duration::from_secs(60);

/// An `-n REQUESTS -c CONNECTIONS` config against `url`, one client thread.
fn config(url: String) -> AttackConfig {
    AttackConfig {
        url,
        connections: CONNECTIONS,
        requests: Some(REQUESTS),
        timeout: Duration::from_secs(10),
        threads: 1,
        ..AttackConfig::default()
    }
}

/// Runs loadgen on another thread so that a hang fails this test after [`WATCHDOG`] instead of
/// blocking the suite; returns the result and the wall time.
fn attack(cfg: AttackConfig) -> (Result<Report, AttackError>, Duration) {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(run(&cfg));
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(result) => (result, start.elapsed()),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("loadgen still running after {WATCHDOG:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("loadgen panicked"),
    }
}

/// Which result counters a test expects (all others must be zero).
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    req2xx: u64,
    req5xx: u64,
    errors: ErrorClasses,
}

fn counts(report: &Report) -> Counts {
    let r = &report.result;
    assert_eq!(
        (r.req1xx, r.req3xx, r.req4xx, r.others),
        (0, 0, 0, 0),
        "unexpected status classes"
    );
    Counts {
        req2xx: r.req2xx,
        req5xx: r.req5xx,
        errors: r.error_classes,
    }
}

/// Runs `REQUESTS` requests against a server answering every one with `fault`, with keep-alive
/// on and off, and checks the counters are exactly `expected`, and that the server read exactly
/// `REQUESTS` requests.
fn exact(fault: Fault, expected: Counts) {
    for keep_alive in [true, false] {
        let server = FaultServer::start(fault.clone());
        let cfg = AttackConfig {
            keep_alive,
            ..config(server.url())
        };
        let (report, elapsed) = attack(cfg);
        let what = format!("{fault:?} keep-alive {keep_alive}");
        let report = report.unwrap_or_else(|e| panic!("{what}: run failed: {e}"));
        assert_eq!(counts(&report), expected, "{what} (after {elapsed:?})");
        let r = &report.result;
        assert_eq!(
            r.requests + r.error_classes.total(),
            REQUESTS,
            "{what}: every request is a response or an error"
        );
        assert_eq!(r.in_flight_at_deadline, 0);
        if matches!(fault, Fault::CloseOnAccept) {
            // One connection per request (plus loadgen's reachability probe), nothing read.
            assert!(server.connections() > REQUESTS, "{what}: connections");
        } else {
            assert_eq!(
                server.requests(),
                REQUESTS,
                "{what}: requests read by the server"
            );
        }
        if !keep_alive {
            // A new connection per request, plus the reachability probe.
            assert_eq!(server.connections(), REQUESTS + 1, "{what}: connections");
        }
        // Errors are listed bombardier-style too.
        let listed: u64 = r.errors.iter().map(|e| e.count).sum();
        assert_eq!(listed, r.error_classes.total(), "{what}: errors list");
    }
}

fn errors(f: impl FnOnce(&mut ErrorClasses)) -> ErrorClasses {
    let mut e = ErrorClasses::default();
    f(&mut e);
    e
}

/// Every request of every fault in `faults` ends up in the one counter `field` picks.
fn all_counted_as(faults: &[Fault], field: fn(&mut Counts) -> &mut u64) {
    for fault in faults {
        let mut expected = Counts::default();
        *field(&mut expected) = REQUESTS;
        exact(fault.clone(), expected);
    }
}

#[test]
fn well_formed_responses_are_2xx() {
    all_counted_as(
        &[
            Fault::Ok,
            Fault::Chunked,
            Fault::CloseDelimited,
            Fault::SlowBody {
                len: 3,
                every: Duration::from_millis(20),
            },
        ],
        |c| &mut c.req2xx,
    );
}

#[test]
fn status_503_counts_as_5xx_not_error() {
    all_counted_as(&[Fault::Status(503)], |c| &mut c.req5xx);
}

#[test]
fn reset_or_close_before_complete_response_is_peer_closed() {
    all_counted_as(
        &[
            Fault::Reset,
            Fault::CloseBeforeResponse,
            Fault::TruncatedHeaders,
            Fault::TruncatedBody,
            // The server closes before reading: the request write still succeeds (the peer
            // only sent FIN), the read sees the close.
            Fault::CloseOnAccept,
        ],
        |c| &mut c.errors.peer_closed,
    );
}

#[test]
fn invalid_responses_are_parse_errors() {
    all_counted_as(
        &[
            Fault::Garbage,
            Fault::BadChunked,
            Fault::BadStatus,
            Fault::EndlessHeaders,
        ],
        |c| &mut c.errors.parse,
    );
}

#[test]
fn faults_mixed_with_good_responses_on_keep_alive_connections() {
    // Every n-th request (counted over the whole server) fails; the failed connection is
    // replaced and the others keep going.
    let reset: fn(&mut ErrorClasses, u64) = |e, n| e.peer_closed = n;
    let parse: fn(&mut ErrorClasses, u64) = |e, n| e.parse = n;
    for (n, fault, class) in [(5, Fault::Reset, reset), (4, Fault::Garbage, parse)] {
        exact(
            Fault::EveryNth {
                n,
                fault: Box::new(fault),
            },
            Counts {
                req2xx: REQUESTS - REQUESTS / n,
                errors: errors(|e| class(e, REQUESTS / n)),
                ..Counts::default()
            },
        );
    }
}

#[test]
fn reset_on_accept_fails_every_request() {
    // A reset right after accept can even beat the client's check of the connect result.
    let server = FaultServer::start(Fault::ResetOnAccept);
    let (report, _) = attack(config(server.url()));
    let r = report.expect("run").result;
    let e = r.error_classes;
    assert_eq!(r.requests, 0);
    assert_eq!(
        e.peer_closed + e.write + e.read + e.connect,
        REQUESTS,
        "reset on accept: {e:?}"
    );
    assert_eq!((e.timeout, e.parse), (0, 0), "{e:?}");
}

#[test]
fn stalled_server_times_out_each_request_in_time() {
    // -n mode: each of the 4 connections sends one request at a time; 8 requests = 2 rounds of
    // the 300 ms timeout.
    let server = FaultServer::start(Fault::Stall);
    let timeout = Duration::from_millis(300);
    let cfg = AttackConfig {
        requests: Some(8),
        timeout,
        ..config(server.url())
    };
    let (report, elapsed) = attack(cfg);
    let report = report.expect("run");
    assert_eq!(
        counts(&report),
        Counts {
            errors: errors(|e| e.timeout = 8),
            ..Counts::default()
        }
    );
    assert_eq!(server.requests(), 8);
    // Two rounds of timeouts, plus a generous margin for a loaded machine.
    assert!(
        elapsed < 2 * timeout + Duration::from_secs(10),
        "{elapsed:?}"
    );
}

#[test]
fn timed_run_against_stalled_server_ends_at_deadline() {
    // Timeout longer than the run: the requests are still in flight when the run ends; loadgen
    // must stop at the deadline (never wait past deadline + timeout) and report them as such.
    let server = FaultServer::start(Fault::Stall);
    let duration = Duration::from_millis(1500);
    let timeout = Duration::from_secs(3);
    let cfg = AttackConfig {
        requests: None,
        duration: Some(duration),
        timeout,
        ..config(server.url())
    };
    let (report, elapsed) = attack(cfg);
    let r = report.expect("run").result;
    assert_eq!(r.requests, 0);
    assert_eq!(r.error_classes.total(), 0, "{:?}", r.error_classes);
    assert_eq!(r.in_flight_at_deadline, CONNECTIONS as u64);
    assert!(
        elapsed < duration + timeout + Duration::from_secs(5),
        "run took {elapsed:?}"
    );
}

#[test]
fn slow_body_past_timeout_times_out() {
    // 50 bytes at one per 100 ms = 5 s of body; the 400 ms timeout must cut each request off.
    let server = FaultServer::start(Fault::SlowBody {
        len: 50,
        every: Duration::from_millis(100),
    });
    let timeout = Duration::from_millis(400);
    let cfg = AttackConfig {
        requests: Some(CONNECTIONS as u64),
        timeout,
        ..config(server.url())
    };
    let (report, elapsed) = attack(cfg);
    let report = report.expect("run");
    assert_eq!(
        counts(&report),
        Counts {
            errors: errors(|e| e.timeout = CONNECTIONS as u64),
            ..Counts::default()
        }
    );
    assert!(elapsed < timeout + Duration::from_secs(10), "{elapsed:?}");
}

#[test]
fn refused_connection_is_one_clear_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let (result, elapsed) = attack(config(format!("http://127.0.0.1:{port}/")));
    match result {
        Err(AttackError::Unreachable { .. }) => {}
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[test]
fn tls_handshake_failure_is_a_connect_error() {
    // https:// against a server that answers with garbage: every handshake fails, each request
    // is one connect error, and every attempt is a new connection.
    let server = FaultServer::start(Fault::GarbageOnAccept);
    let cfg = AttackConfig {
        insecure: true,
        ..config(format!("https://{}/", server.addr()))
    };
    let (report, _) = attack(cfg);
    let report = report.expect("run");
    assert_eq!(
        counts(&report),
        Counts {
            errors: errors(|e| e.connect = REQUESTS),
            ..Counts::default()
        }
    );
    // Plus loadgen's plain-TCP reachability probe.
    assert_eq!(server.connections(), REQUESTS + 1);
}
