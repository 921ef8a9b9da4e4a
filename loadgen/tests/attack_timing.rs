//! `-d` stops on time, `-r` keeps its schedule, warmup is not recorded.

mod support;

use std::time::{Duration, Instant};

use loadgen::attack::{AttackConfig, run};
use support::TestServer;

#[test]
fn duration_stops_on_time() {
    let server = TestServer::start();
    let cfg = AttackConfig {
        url: server.url("/ok"),
        connections: 8,
        duration: Some(Duration::from_millis(1500)),
        threads: 2,
        ..Default::default()
    };
    let started = Instant::now();
    let r = run(&cfg).unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(r.result.time_taken_seconds, 1.5);
    assert!(r.result.requests > 0);
    assert!(r.result.in_flight_at_deadline <= 8);
    assert_eq!(r.result.error_classes.total(), 0);
    assert_eq!(r.result.rps_samples.len(), 15);
    assert_eq!(r.result.rps_samples.iter().sum::<u64>(), r.result.requests);
    let timeline: u64 = r.result.timeline.iter().map(|p| p.requests).sum();
    assert_eq!(timeline, r.result.requests);
    assert!((r.result.rps.mean - r.result.requests as f64 / 1.5).abs() < 1e-6);
}

/// `-r 500 -c 10 -d 2s`: each connection sends on a schedule of its own (one slot every
/// `10 / 500` s, the connections offset by `1 / 500` s), so the slots before the deadline can be
/// counted exactly: loadgen must never send more than that (a rate limiter that runs fast fails
/// at once). Fewer may leave when a loaded machine stalls the client near the deadline (a slot
/// that passed is sent late, but a slot still pending at the deadline is not sent): the lower
/// bounds are loose (80%: a stall of 0.4 s), wide enough for a busy 2-core machine, tight
/// enough to catch a limiter that runs slow.
#[test]
fn rate_is_held_to_its_schedule() {
    const RATE: f64 = 500.0;
    const CONNECTIONS: usize = 10;
    const DURATION: Duration = Duration::from_secs(2);
    let server = TestServer::start();
    let cfg = AttackConfig {
        url: server.url("/ok"),
        connections: CONNECTIONS,
        duration: Some(DURATION),
        rate: Some(RATE),
        threads: 2,
        ..Default::default()
    };
    let r = run(&cfg).unwrap();
    // Slots before the deadline; a send may leave up to one 1 ms timer tick before its slot.
    let interval = CONNECTIONS as f64 / RATE;
    let horizon = DURATION.as_secs_f64() + 0.001;
    let scheduled: u64 = (0..CONNECTIONS)
        .map(|g| ((horizon - g as f64 / RATE) / interval).ceil() as u64)
        .sum();
    assert!((1000..=1001).contains(&scheduled), "{scheduled}");
    let sent = r.result.requests + r.result.in_flight_at_deadline;
    let received = server.requests.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        sent <= scheduled && received <= scheduled,
        "more than the {scheduled} scheduled sends: loadgen sent {sent}, the server read {received}"
    );
    assert!(
        sent * 10 >= scheduled * 8,
        "sent only {sent} of {scheduled}"
    );
    // Completions per second: never above the rate, at most 20% below it.
    let mean = r.result.rps.mean;
    assert!(
        (RATE * 0.8..=RATE + 0.5).contains(&mean),
        "{mean} requests/s"
    );
    let corrected = r
        .result
        .corrected_latency
        .expect("corrected latency in rate mode");
    assert!(corrected.max >= r.result.latency.max * 0.5);
    assert!(r.result.corrected_histogram.is_some());
}

#[test]
fn warmup_is_not_recorded() {
    let server = TestServer::start();
    let cfg = AttackConfig {
        url: server.url("/ok"),
        connections: 2,
        duration: Some(Duration::from_millis(500)),
        warmup: Duration::from_millis(500),
        threads: 1,
        ..Default::default()
    };
    let r = run(&cfg).unwrap();
    let received = server.requests.load(std::sync::atomic::Ordering::Relaxed);
    assert!(r.result.requests > 0);
    assert!(
        received > r.result.requests + r.result.in_flight_at_deadline,
        "{received}"
    );
    assert_eq!(r.result.time_taken_seconds, 0.5);
}

#[test]
fn start_at_waits_for_the_wall_clock() {
    let server = TestServer::start();
    let cfg = AttackConfig {
        url: server.url("/ok"),
        connections: 2,
        requests: Some(10),
        threads: 1,
        start_at: Some(std::time::SystemTime::now() + Duration::from_millis(700)),
        ..Default::default()
    };
    let started = Instant::now();
    let r = run(&cfg).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert_eq!(r.result.req2xx, 10);
    let wall_start = std::time::UNIX_EPOCH + Duration::from_millis(r.result.started_at_unix_ms);
    assert!(wall_start + Duration::from_millis(50) >= cfg.start_at.unwrap());
}
