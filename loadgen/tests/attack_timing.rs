//! `-d` stops on time, `-r` holds its rate, warmup is not recorded.

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

#[test]
fn rate_is_held_within_two_percent() {
    let server = TestServer::start();
    let cfg = AttackConfig {
        url: server.url("/ok"),
        connections: 10,
        duration: Some(Duration::from_secs(2)),
        rate: Some(500.0),
        threads: 2,
        ..Default::default()
    };
    let r = run(&cfg).unwrap();
    let sent = r.result.requests + r.result.in_flight_at_deadline;
    assert!((980..=1020).contains(&sent), "sent {sent}");
    assert!(
        (r.result.rps.mean - 500.0).abs() <= 10.0,
        "{}",
        r.result.rps.mean
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
