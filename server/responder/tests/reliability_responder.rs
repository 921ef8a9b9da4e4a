//! The responder under hostile and faulty clients: the malformed-request corpus, slowloris, and
//! graceful shutdown with requests in flight. Each test fails if the property breaks.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use tcpserver_responder::{Responder, ResponderArgs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use support::corpus::corpus;
use support::{PATIENCE, check, eventually, exchange, good_client, read_one_response, runtime};

/// Starts an in-process responder on 127.0.0.1:0 with extra flags.
fn responder(flags: &[&str]) -> Responder {
    let mut argv = vec!["responder", "--listen", "127.0.0.1:0", "--threads", "2"];
    argv.extend_from_slice(flags);
    Responder::start(ResponderArgs::parse_from(argv)).expect("start responder")
}

/// Every corpus case on its own connection (8 at a time), both runtime models; a well-behaved
/// keep-alive client is served correctly the whole time; afterwards no connection is left.
/// `RELIABILITY_VERBOSE=1` lists what the server answered to each case.
#[test]
fn malformed_corpus_gets_4xx_or_close_and_never_disturbs_a_good_client() {
    let cases = corpus();
    assert!(cases.len() >= 50, "corpus has only {} cases", cases.len());
    let mut all_failures = Vec::new();
    for model in ["per-core", "shared"] {
        let server = responder(&["--runtime", model, "--header-timeout-ms", "3000"]);
        let addr = server.local_addr();
        let handle = server.handle();
        let failures = runtime().block_on(async {
            let done = Arc::new(AtomicBool::new(false));
            let served = Arc::new(AtomicU64::new(0));
            let good = tokio::spawn(good_client_loop(addr, done.clone(), served.clone()));

            let mut failures = Vec::new();
            for batch in cases.chunks(8) {
                let tasks: Vec<_> = batch
                    .iter()
                    .cloned()
                    .map(|case| {
                        tokio::spawn(async move {
                            let outcome = exchange(addr, &case.bytes, PATIENCE).await;
                            (case, outcome)
                        })
                    })
                    .collect();
                for task in tasks {
                    let (case, outcome) = task.await.expect("case task");
                    let verdict = match outcome {
                        Ok(outcome) => {
                            if std::env::var_os("RELIABILITY_VERBOSE").is_some() {
                                let statuses: Vec<u16> =
                                    outcome.responses.iter().map(|r| r.status).collect();
                                eprintln!(
                                    "{model:8} {:34} {:?} -> {statuses:?}{}",
                                    case.name,
                                    case.expect,
                                    if outcome.reset { " reset" } else { " close" }
                                );
                            }
                            check(&case, &outcome)
                        }
                        Err(e) => Err(format!("connect/IO error: {e}")),
                    };
                    if let Err(why) = verdict {
                        failures.push(format!("{model}/{}: {why}", case.name));
                    }
                }
            }
            done.store(true, Ordering::SeqCst);
            if let Err(e) = good.await.expect("good client task") {
                failures.push(format!("{model}: good client: {e}"));
            }
            assert!(
                served.load(Ordering::SeqCst) > 0,
                "good client never served"
            );
            // Every corpus connection is gone once its client is.
            if !failures.is_empty() {
                // Report the cases before waiting for the connections to go.
                eprintln!("{model}:\n{}", failures.join("\n"));
            }
            eventually(|| handle.active_connections() == 0).await;
            failures
        });
        server.handle().halt();
        server.wait().expect("responder exits cleanly");
        all_failures.extend(failures);
    }
    assert!(all_failures.is_empty(), "\n{}", all_failures.join("\n"));
}

/// One keep-alive client sending requests back to back until `done`.
async fn good_client_loop(
    addr: SocketAddr,
    done: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
) -> Result<(), String> {
    while !done.load(Ordering::SeqCst) {
        good_client(addr, 20).await?;
        served.fetch_add(20, Ordering::SeqCst);
    }
    Ok(())
}

/// 500 connections send a request head one byte per second. A normal client is served with
/// normal latency all along, and the header-read deadline (2 s here) closes every slow
/// connection (with 408 or a plain close) well before its head could complete.
#[test]
fn slowloris_connections_are_cut_off_and_do_not_block_others() {
    const SLOW: usize = 500;
    let header_timeout = Duration::from_millis(2000);
    if !support::raise_nofile(2 * SLOW as u64 + 200) {
        eprintln!("SKIPPED: RLIMIT_NOFILE too low for {SLOW} slow connections");
        return;
    }
    let server = responder(&[
        "--header-timeout-ms",
        &header_timeout.as_millis().to_string(),
    ]);
    let addr = server.local_addr();
    let handle = server.handle();
    runtime().block_on(async {
        let start = Instant::now();
        let mut slow = Vec::with_capacity(SLOW);
        for _ in 0..SLOW {
            let stream = TcpStream::connect(addr).await.expect("slow connect");
            slow.push(tokio::spawn(slow_client(stream)));
        }
        // A normal client, each round a new connection plus keep-alive requests, while the slow
        // ones hold their sockets. Rounds that end before `start + header_timeout` ran while
        // every slow connection was still open (none can time out earlier).
        let mut worst = Duration::ZERO;
        let mut while_all_open = 0;
        while start.elapsed() < header_timeout * 2 {
            let t = Instant::now();
            good_client(addr, 5)
                .await
                .expect("good client during slowloris");
            worst = worst.max(t.elapsed());
            if start.elapsed() < header_timeout {
                while_all_open += 1;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            while_all_open >= 1,
            "no normal request completed while the {SLOW} slow connections were open"
        );
        assert!(
            worst < header_timeout,
            "a normal client waited {worst:?} behind slowloris"
        );
        // Every slow connection was closed by the server, within 2x the header timeout plus
        // a margin for a loaded machine; none was answered with 2xx.
        let mut outcomes = Vec::new();
        for task in slow {
            outcomes.push(task.await.expect("slow task"));
        }
        let bound = header_timeout * 2 + Duration::from_secs(5);
        let late: Vec<_> = outcomes.iter().filter(|o| o.closed_after > bound).collect();
        let early = outcomes
            .iter()
            .filter(|o| o.closed_after < header_timeout / 2)
            .count();
        assert_eq!(
            early, 0,
            "slow connections closed before the header timeout"
        );
        assert!(
            late.is_empty(),
            "{} slow connections closed late",
            late.len()
        );
        let answered: Vec<_> = outcomes
            .iter()
            .filter(|o| !matches!(o.status, None | Some(408)))
            .map(|o| o.status)
            .collect();
        assert!(
            answered.is_empty(),
            "slow clients answered with {answered:?}"
        );
        let sent_max = outcomes.iter().map(|o| o.sent).max().unwrap_or(0);
        assert!(
            sent_max < SLOWLORIS_HEAD.len(),
            "a slow client got its whole head through"
        );
        eventually(|| handle.active_connections() == 0).await;
    });
    server.handle().halt();
    server.wait().expect("responder exits");
}

const SLOWLORIS_HEAD: &[u8] =
    b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: abcdefghijklmnopqrstuvwxyz\r\n\r\n";

struct SlowOutcome {
    /// Bytes sent before the server closed.
    sent: usize,
    /// Status of a response, if any came.
    status: Option<u16>,
    /// When the server closed, since the connection started.
    closed_after: Duration,
}

/// Sends [`SLOWLORIS_HEAD`] one byte per second until the server closes the connection.
async fn slow_client(mut stream: TcpStream) -> SlowOutcome {
    let start = Instant::now();
    let mut sent = 0;
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let hard_stop = PATIENCE * 2;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if sent < SLOWLORIS_HEAD.len() {
                    if stream.write_all(&SLOWLORIS_HEAD[sent..sent + 1]).await.is_err() {
                        break;
                    }
                    sent += 1;
                }
            }
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            },
        }
        if start.elapsed() > hard_stop {
            break;
        }
    }
    let status = support::parse_closed(&received).0.first().map(|r| r.status);
    SlowOutcome {
        sent,
        status,
        closed_after: start.elapsed(),
    }
}

/// Graceful shutdown with requests in flight (responder sleeping 300 ms per request, 50
/// keep-alive clients): every request written before `shutdown` is answered completely; no
/// response is ever cut short; new connections are refused; the server finishes within the
/// deadline plus a margin.
#[test]
fn graceful_shutdown_completes_in_flight_requests_and_refuses_new_ones() {
    const CLIENTS: usize = 50;
    let server = responder(&["--sleep-ms", "300"]);
    let addr = server.local_addr();
    let handle = server.handle();
    let shutdown_at = Arc::new(std::sync::OnceLock::<Instant>::new());
    let second_sent = Arc::new(AtomicUsize::new(0));
    let rt = runtime();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            rt.spawn(shutdown_client(
                addr,
                shutdown_at.clone(),
                second_sent.clone(),
            ))
        })
        .collect();
    // Shut down once every client is in keep-alive steady state with a request in flight: its
    // first request answered, its second written.
    rt.block_on(eventually(|| second_sent.load(Ordering::SeqCst) >= CLIENTS));
    let deadline = Duration::from_secs(5);
    let began = Instant::now();
    shutdown_at.set(began).expect("set once");
    handle.shutdown(deadline);
    let waited = std::thread::spawn(move || server.wait());
    // New connections are refused once the listener is closed (a connect racing with the
    // shutdown call may still be drained from the accept queue and served: then completely).
    rt.block_on(async {
        let mut refused = false;
        while !refused && began.elapsed() < Duration::from_secs(2) {
            match timeout(PATIENCE, TcpStream::connect(addr)).await {
                Err(_) => panic!("connect during shutdown hung"),
                Ok(Err(_)) => refused = true,
                Ok(Ok(mut s)) => {
                    let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
                    let mut buf = Vec::new();
                    let r = timeout(PATIENCE, s.read_to_end(&mut buf)).await;
                    assert!(r.is_ok(), "connection accepted during shutdown hangs");
                    let (responses, rest) = support::parse_closed(&buf);
                    assert!(
                        rest.is_empty() && responses.iter().all(|r| r.status == 200),
                        "connection during shutdown got a broken answer: {:?}",
                        String::from_utf8_lossy(&buf)
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        assert!(
            refused,
            "new connections still accepted 2 s into the shutdown"
        );
    });
    let result = waited.join().expect("wait thread");
    let took = began.elapsed();
    result.expect("responder shut down cleanly");
    assert!(
        took < deadline + Duration::from_secs(3),
        "serve returned after {took:?} (deadline {deadline:?})"
    );
    let mut in_flight_ok = 0;
    let mut violations = Vec::new();
    rt.block_on(async {
        for task in tasks {
            let report = task.await.expect("client task");
            in_flight_ok += report.in_flight_answered;
            violations.extend(report.violations);
        }
    });
    assert!(violations.is_empty(), "\n{}", violations.join("\n"));
    assert!(
        in_flight_ok >= CLIENTS / 2,
        "only {in_flight_ok} requests were in flight at shutdown"
    );
}

#[derive(Default)]
struct ShutdownReport {
    /// Requests written before shutdown and answered completely.
    in_flight_answered: usize,
    violations: Vec<String>,
}

/// Sends keep-alive requests back to back until the server closes (counting in `second_sent`
/// when its second request is written); classifies each failure by whether its request was
/// written before the shutdown began.
async fn shutdown_client(
    addr: SocketAddr,
    shutdown_at: Arc<std::sync::OnceLock<Instant>>,
    second_sent: Arc<AtomicUsize>,
) -> ShutdownReport {
    let mut report = ShutdownReport::default();
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        report.violations.push("initial connect failed".into());
        return report;
    };
    let mut buf = Vec::new();
    let mut requests = 0u64;
    loop {
        let written_at = Instant::now();
        if stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .is_err()
        {
            return report; // closed by the server between requests
        }
        requests += 1;
        if requests == 2 {
            second_sent.fetch_add(1, Ordering::SeqCst);
        }
        let before_shutdown = shutdown_at.get().is_none_or(|t| written_at < *t);
        match timeout(PATIENCE, read_one_response(&mut stream, &mut buf)).await {
            Ok(Ok(r)) if r.status == 200 => {
                if before_shutdown && shutdown_at.get().is_some() {
                    report.in_flight_answered += 1;
                }
            }
            Ok(Ok(r)) => report.violations.push(format!("status {}", r.status)),
            Ok(Err(e)) => {
                if before_shutdown {
                    report
                        .violations
                        .push(format!("request in flight at shutdown failed: {e}"));
                } else if !buf.is_empty() {
                    report
                        .violations
                        .push(format!("response cut short: {} bytes", buf.len()));
                }
                return report;
            }
            Err(_) => {
                report.violations.push("response timed out".into());
                return report;
            }
        }
    }
}

/// `halt` ends serving at once, with requests in flight (responder sleeping 10 s each).
#[test]
fn halt_returns_at_once() {
    let server = responder(&["--sleep-ms", "10000"]);
    let addr = server.local_addr();
    let handle = server.handle();
    let rt = runtime();
    let clients: Vec<_> = (0..20)
        .map(|_| {
            rt.spawn(async move {
                let mut s = TcpStream::connect(addr).await.ok()?;
                s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .ok()?;
                let mut buf = Vec::new();
                timeout(PATIENCE, s.read_to_end(&mut buf))
                    .await
                    .ok()?
                    .ok()?;
                Some(buf)
            })
        })
        .collect();
    rt.block_on(async {
        eventually(|| handle.active_connections() == 20).await;
    });
    let began = Instant::now();
    handle.halt();
    server.wait().expect("responder exits");
    let took = began.elapsed();
    assert!(took < Duration::from_secs(2), "halt took {took:?}");
    rt.block_on(async {
        for c in clients {
            // Closed without a (partial) response.
            if let Some(buf) = c.await.expect("client task") {
                assert!(buf.is_empty(), "response during halt");
            }
        }
    });
}
