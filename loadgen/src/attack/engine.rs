//! Run orchestration: plan the threads, start them together, collect per-second reports and the
//! per-thread statistics, and build the [`Report`].

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use super::conn::{self, Connector, ThreadCtx};
use super::stats::{SecondReport, ThreadStats, WINDOW, new_second_histogram};
use super::target::{Target, build_request};
use super::{AttackConfig, AttackError, http2, pipeline, tls};
use crate::report::{
    Report, RunResult, Spec, SpecHeader, TimelinePoint, Totals, new_latency_histogram, rps_stats,
};
use crate::sys;

/// Closed-loop HTTP/2 on CPUs set aside for the client: how long a client thread with nothing
/// to do spins before it sleeps in epoll. The HTTP/2 client needs so little CPU per request that
/// its thread would otherwise sleep between most reads, and the server would pay a wake-up (an
/// IPI and the scheduler) for nearly every write: measured against hyper on one core each, 128k
/// req/s without the spin, 170k with 20 µs and 179k with 50 µs, for the same server CPU. In the
/// meantime, events pile up and are handled in bigger batches. Never with `-r` (an open loop is
/// mostly idle), and only when the client has CPUs of its own (`--cpus`, or `taskset`/a cpuset
/// leaving it fewer CPUs than are online): on shared CPUs the spin would take time from the
/// server under test.
const PARK_SPIN: Duration = Duration::from_micros(50);

/// Duration of a run given neither `-d` nor `-n` (bombardier's default).
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// What one thread hands back.
struct ThreadResult {
    latency: Histogram<u64>,
    corrected: Option<Histogram<u64>>,
    connect: Histogram<u64>,
    /// The thread's counters (statuses, errors, bytes, ...), summed like reports are merged.
    counts: RunResult,
    last_done: Option<Instant>,
    windows: Vec<u64>,
}

/// What one thread is asked to do.
struct ThreadPlan {
    index: usize,
    /// Global indices of this thread's connections.
    connections: std::ops::Range<usize>,
    tickets: Option<u64>,
    cpu: Option<usize>,
}

struct Shared {
    origin: Instant,
    measure_start: Instant,
    deadline: Option<Instant>,
    request: Arc<[u8]>,
    head_request: bool,
    keep_alive: bool,
    timeout: Duration,
    addr: SocketAddr,
    unix_socket: Option<std::path::PathBuf>,
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    rate: Option<f64>,
    total_connections: usize,
    /// The request `pipeline` times.
    batch: Arc<[u8]>,
    pipeline: usize,
    streams: usize,
    /// HTTP/2: the request.
    h2_request: Option<Arc<http2::H2Request>>,
    /// Spin before parking (see [`PARK_SPIN`]).
    park_spin: bool,
}

pub(super) fn run(cfg: &AttackConfig) -> Result<Report, AttackError> {
    if cfg.connections == 0 {
        return Err(AttackError::Config("connections must be at least 1".into()));
    }
    if let Some(r) = cfg.rate
        && !(r.is_finite() && r > 0.0)
    {
        return Err(AttackError::Config(format!(
            "rate must be positive, got {r}"
        )));
    }
    if cfg.requests == Some(0) {
        return Err(AttackError::Config("requests must be at least 1".into()));
    }
    if cfg.duration == Some(Duration::ZERO) {
        return Err(AttackError::Config("duration must be positive".into()));
    }
    if cfg.requests.is_some() && cfg.duration.is_none() && !cfg.warmup.is_zero() {
        return Err(AttackError::Config(
            "warmup needs a timed run (-d), not a request count (-n)".into(),
        ));
    }
    if cfg.timeout.is_zero() {
        return Err(AttackError::Config("timeout must be positive".into()));
    }
    check_protocol(cfg)?;
    let target = Target::parse(&cfg.url)?;
    let request: Arc<[u8]> = build_request(
        &target,
        &cfg.method,
        &cfg.headers,
        &cfg.body,
        cfg.keep_alive,
        cfg.stream,
    )?
    .into();
    let http2 = cfg.http2 || cfg.h2c;
    let h2_request = if http2 {
        Some(Arc::new(
            http2::build_request(
                target.tls,
                &target.authority,
                &target.path,
                &cfg.method,
                &cfg.headers,
                &cfg.body,
            )
            .map_err(AttackError::Config)?,
        ))
    } else {
        None
    };
    let batch: Arc<[u8]> = request.repeat(cfg.pipeline as usize).into();
    // `--connect-to HOST:PORT`: dial there; `Host` and TLS name still come from the URL.
    let addr = match (&cfg.connect_to, &cfg.unix_socket) {
        (Some(dial), _) => Target::parse(dial)?.resolve()?,
        // Not dialed (the Unix socket is); the URL's host is only the `Host` header.
        (None, Some(_)) => SocketAddr::from(([127, 0, 0, 1], target.port)),
        (None, None) => target.resolve()?,
    };
    let tls = if target.tls {
        let config = tls::client_config(
            cfg.insecure,
            cfg.client_cert
                .as_ref()
                .map(|(c, k)| (c.as_path(), k.as_path())),
            cfg.connections * 2,
            if http2 { b"h2" } else { b"http/1.1" },
        )?;
        Some((
            tokio_rustls::TlsConnector::from(config),
            tls::server_name(&target.host)?,
        ))
    } else {
        None
    };

    let threads = match cfg.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(cfg.connections);

    let needed = cfg.connections as u64 + 32 * threads as u64 + 64;
    match sys::raise_nofile(needed) {
        Ok(limit) if limit >= needed => {}
        Ok(limit) => {
            return Err(AttackError::Config(format!(
                "{} connections need about {needed} file descriptors but the hard limit is {limit} \
                 (raise it with `ulimit -Hn` or limits.conf)",
                cfg.connections
            )));
        }
        Err(e) => tracing::warn!("cannot raise RLIMIT_NOFILE to {needed}: {e}"),
    }

    // One blocking probe so that an unreachable target is one clear error, not a run of errors.
    let probe = match &cfg.unix_socket {
        #[cfg(unix)]
        Some(path) => std::os::unix::net::UnixStream::connect(path)
            .map(drop)
            .map_err(|e| (path.display().to_string(), e)),
        #[cfg(not(unix))]
        Some(path) => Err((
            path.display().to_string(),
            std::io::ErrorKind::Unsupported.into(),
        )),
        None => TcpStream::connect_timeout(&addr, cfg.timeout)
            .map(drop)
            .map_err(|e| (addr.to_string(), e)),
    };
    if let Err((addr, e)) = probe {
        return Err(AttackError::Unreachable {
            addr,
            reason: e.to_string(),
        });
    }

    if let Some(at) = cfg.start_at
        && let Ok(wait) = at.duration_since(SystemTime::now())
    {
        std::thread::sleep(wait);
    }

    let duration = match (cfg.duration, cfg.requests) {
        (Some(d), _) => Some(d),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_DURATION),
    };
    let origin = Instant::now();
    let started_wall = SystemTime::now() + cfg.warmup;
    let measure_start = origin + cfg.warmup;
    let shared = Arc::new(Shared {
        origin,
        measure_start,
        deadline: duration.map(|d| measure_start + d),
        request,
        head_request: cfg.method.eq_ignore_ascii_case("HEAD"),
        keep_alive: cfg.keep_alive,
        timeout: cfg.timeout,
        addr,
        unix_socket: cfg.unix_socket.clone(),
        tls,
        rate: cfg.rate,
        total_connections: cfg.connections,
        batch,
        pipeline: cfg.pipeline as usize,
        streams: cfg.streams as usize,
        park_spin: h2_request.is_some()
            && cfg.rate.is_none()
            && (cfg.cpus.as_ref().is_some_and(|c| !c.is_empty()) || sys::confined_to_some_cpus()),
        h2_request,
    });
    let cpu_before = sys::process_cpu_seconds();

    let (tx, rx) = mpsc::channel::<SecondReport>();
    let mut handles = Vec::with_capacity(threads);
    let mut progress = Vec::with_capacity(threads);
    let mut first_conn = 0;
    for index in 0..threads {
        let conns = split(cfg.connections as u64, threads, index) as usize;
        let plan = ThreadPlan {
            index,
            connections: first_conn..first_conn + conns,
            // With -d, -n and warmup together the count is not enforced (warmup would use it up).
            tickets: cfg
                .requests
                .filter(|_| cfg.warmup.is_zero())
                .map(|n| split(n, threads, index)),
            cpu: cfg
                .cpus
                .as_ref()
                .filter(|c| !c.is_empty())
                .map(|c| c[index % c.len()]),
        };
        first_conn += conns;
        let counter = Arc::new(AtomicU64::new(0));
        progress.push(counter.clone());
        let shared = shared.clone();
        let tx = tx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("loadgen-{index}"))
            .spawn(move || thread_main(plan, &shared, tx, counter))
            .map_err(|source| AttackError::Io {
                what: "spawning a client thread".into(),
                source,
            })?;
        handles.push(handle);
    }
    drop(tx);

    let bar = progress_bar(cfg, duration);
    let mut seconds: BTreeMap<u64, (usize, u64, u64, Histogram<u64>)> = BTreeMap::new();
    let mut timeline: BTreeMap<u64, TimelinePoint> = BTreeMap::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(r) => {
                let entry = seconds
                    .entry(r.second)
                    .or_insert_with(|| (0, 0, 0, new_second_histogram()));
                entry.0 += 1;
                entry.1 += r.requests;
                entry.2 += r.errors;
                let _ = entry.3.add(&r.hist);
                if entry.0 == threads
                    && let Some(e) = seconds.remove(&r.second)
                {
                    timeline.insert(r.second, point(r.second, &e));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if let Some(bar) = &bar {
            let done: u64 = progress.iter().map(|p| p.load(Ordering::Relaxed)).sum();
            let elapsed = Instant::now().saturating_duration_since(measure_start);
            match duration {
                Some(_) => bar.set_position(elapsed.as_millis() as u64),
                None => bar.set_position(done),
            }
            if elapsed.as_secs_f64() > 0.0 {
                bar.set_message(format!("{:.0} req/s", done as f64 / elapsed.as_secs_f64()));
            }
        }
    }
    for (s, e) in &seconds {
        timeline.insert(*s, point(*s, e));
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let mut results = Vec::with_capacity(threads);
    for h in handles {
        match h.join() {
            Ok(Ok(r)) => results.push(r),
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(AttackError::Io {
                    what: "client thread".into(),
                    source: std::io::Error::other("a client thread panicked"),
                });
            }
        }
    }
    let cpu = sys::process_cpu_seconds() - cpu_before;
    Ok(build_report(
        cfg,
        &shared,
        duration,
        results,
        timeline,
        cpu,
        started_wall,
    ))
}

/// Checks the protocol options (`http2`, `h2c`, `streams`, `pipeline`) against each other.
pub(super) fn check_protocol(cfg: &AttackConfig) -> Result<(), AttackError> {
    let bad = |m: &str| Err(AttackError::Config(m.into()));
    let http2 = cfg.http2 || cfg.h2c;
    if cfg.streams == 0 {
        return bad("streams must be at least 1");
    }
    if cfg.pipeline == 0 {
        return bad("pipeline depth must be at least 1");
    }
    if cfg.h2c && cfg.url.starts_with("https://") {
        return bad("h2c is cleartext HTTP/2: use an http:// URL (or --http2 for https://)");
    }
    if http2 && cfg.pipeline > 1 {
        return bad("pipelining is HTTP/1.1; with HTTP/2 use streams");
    }
    if !http2 && cfg.streams > 1 {
        return bad("streams need HTTP/2 (--http2 or --h2c)");
    }
    if cfg.pipeline > 1 && !cfg.keep_alive {
        return bad("pipelining needs keep-alive");
    }
    Ok(())
}

fn point(second: u64, e: &(usize, u64, u64, Histogram<u64>)) -> TimelinePoint {
    let q = |q: f64| {
        if e.3.is_empty() {
            0
        } else {
            e.3.value_at_quantile(q)
        }
    };
    TimelinePoint {
        second,
        requests: e.1,
        errors: e.2,
        p50: q(0.5),
        p99: q(0.99),
    }
}

/// Share `index` of `total` split over `parts`, the remainder spread over the first shares.
fn split(total: u64, parts: usize, index: usize) -> u64 {
    let parts = parts as u64;
    total / parts + u64::from((index as u64) < total % parts)
}

fn progress_bar(cfg: &AttackConfig, duration: Option<Duration>) -> Option<indicatif::ProgressBar> {
    if !cfg.progress || !std::io::stderr().is_terminal() {
        return None;
    }
    let (len, template) = match duration {
        Some(d) => (d.as_millis() as u64, "{bar:40} {elapsed_precise} {msg}"),
        None => (cfg.requests.unwrap_or(0), "{bar:40} {pos}/{len} {msg}"),
    };
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr_with_hz(10),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    Some(bar)
}

fn thread_main(
    plan: ThreadPlan,
    shared: &Shared,
    tx: mpsc::Sender<SecondReport>,
    progress: Arc<AtomicU64>,
) -> Result<ThreadResult, AttackError> {
    if let Some(cpu) = plan.cpu
        && let Err(e) = sys::pin_current_thread(cpu)
    {
        tracing::warn!("cannot pin client thread {} to CPU {cpu}: {e}", plan.index);
    }
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    if shared.park_spin {
        builder.on_thread_park(|| {
            let start = Instant::now();
            while start.elapsed() < PARK_SPIN {
                std::hint::spin_loop();
            }
        });
    }
    let rt = builder
        .build_local(tokio::runtime::LocalOptions::default())
        .map_err(|source| AttackError::Io {
            what: "building a client runtime".into(),
            source,
        })?;
    let stats = ThreadStats::new(
        shared.measure_start,
        shared.deadline,
        shared.rate.is_some(),
        tx,
        progress,
    );
    let sources = conn::loopback_sources(shared.addr, plan.index);
    let ctx = Rc::new(ThreadCtx {
        stats: RefCell::new(stats),
        connector: Connector {
            addr: shared.addr,
            tls: shared.tls.clone(),
            sources,
            next_source: Cell::new(0),
            spread: Cell::new(false),
            nodelay: shared.keep_alive || shared.tls.is_some() || shared.request.len() > 1200,
            unix_socket: shared.unix_socket.clone(),
        },
        request: shared.request.clone(),
        head_request: shared.head_request,
        keep_alive: shared.keep_alive,
        timeout: shared.timeout,
        deadline: shared.deadline,
        tickets: Cell::new(plan.tickets),
        in_flight: Cell::new(0),
        interval: shared
            .rate
            .map(|r| Duration::from_secs_f64(shared.total_connections as f64 / r)),
        batch: shared.batch.clone(),
    });
    let h2_request = shared.h2_request.clone();
    let result = rt.block_on(async {
        let mut tasks = Vec::with_capacity(plan.connections.len());
        for g in plan.connections.clone() {
            // Spread the connections' schedules evenly over one interval.
            let first = shared.origin
                + shared
                    .rate
                    .map_or(Duration::ZERO, |r| Duration::from_secs_f64(g as f64 / r));
            let task = match (&h2_request, shared.pipeline) {
                (Some(r), _) => tokio::task::spawn_local(http2::connection(
                    ctx.clone(),
                    first,
                    shared.streams,
                    r.clone(),
                )),
                (None, 1) => tokio::task::spawn_local(conn::connection(ctx.clone(), first)),
                (None, depth) => {
                    tokio::task::spawn_local(pipeline::connection(ctx.clone(), first, depth))
                }
            };
            tasks.push(task);
        }
        let all_done = async {
            for t in tasks {
                let _ = t.await;
            }
        };
        let end = match shared.deadline {
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(d.into()) => {
                        let mut s = ctx.stats.borrow_mut();
                        s.in_flight_at_deadline += ctx.in_flight.get();
                        d
                    }
                    // Tasks also end when they see the deadline before the timer fires.
                    _ = all_done => if Instant::now() >= d {
                        d
                    } else {
                        ctx.stats.borrow().last_done.unwrap_or_else(Instant::now)
                    },
                }
            }
            None => {
                all_done.await;
                ctx.stats.borrow().last_done.unwrap_or_else(Instant::now)
            }
        };
        let mut s = ctx.stats.borrow_mut();
        s.finish(end);
        ThreadResult {
            latency: std::mem::replace(&mut s.latency, new_latency_histogram()),
            corrected: s.corrected.take(),
            connect: std::mem::replace(&mut s.connect, new_latency_histogram()),
            counts: RunResult {
                req1xx: s.status[0],
                req2xx: s.status[1],
                req3xx: s.status[2],
                req4xx: s.status[3],
                req5xx: s.status[4],
                others: s.status[5],
                error_classes: s.errors,
                bytes_read: s.bytes_read,
                bytes_written: s.bytes_written,
                late_sends: s.late_sends,
                in_flight_at_deadline: s.in_flight_at_deadline,
                requests: s.requests,
                ..RunResult::default()
            },
            last_done: s.last_done,
            windows: std::mem::take(&mut s.windows),
        }
    });
    drop(rt);
    Ok(result)
}

fn build_report(
    cfg: &AttackConfig,
    shared: &Shared,
    duration: Option<Duration>,
    results: Vec<ThreadResult>,
    timeline: BTreeMap<u64, TimelinePoint>,
    cpu: f64,
    started_wall: SystemTime,
) -> Report {
    let mut totals = Totals::new(shared.rate.is_some());
    let mut windows: Vec<u64> = Vec::new();
    let mut last_done: Option<Instant> = None;
    for t in &results {
        totals.add_counts(&t.counts);
        let connect = Some(&t.connect).filter(|c| !c.is_empty());
        totals.add_histograms(&t.latency, t.corrected.as_ref(), connect);
        last_done = last_done.max(t.last_done);
        if windows.len() < t.windows.len() {
            windows.resize(t.windows.len(), 0);
        }
        for (a, b) in windows.iter_mut().zip(&t.windows) {
            *a += b;
        }
    }
    let mut r = totals.finish();
    let taken = match duration {
        Some(d)
            if shared
                .deadline
                .is_some_and(|dl| last_done.is_none_or(|l| l <= dl))
                && cfg.requests.is_none() =>
        {
            d
        }
        _ => last_done
            .map(|l| l.saturating_duration_since(shared.measure_start))
            .unwrap_or(duration.unwrap_or_default()),
    };
    let full_windows = (taken.as_nanos() / WINDOW.as_nanos()) as usize;
    windows.truncate(full_windows);
    r.time_taken_seconds = taken.as_secs_f64();
    r.rps_window_ms = WINDOW.as_millis() as u64;
    r.rps = rps_stats(&windows, r.rps_window_ms, r.requests, r.time_taken_seconds);
    r.rps_samples = windows;
    r.timeline = timeline.into_values().collect();
    r.client_cpu_seconds = cpu;
    r.started_at_unix_ms = started_wall
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);

    let spec = Spec {
        number_of_connections: cfg.connections as u64,
        test_type: if cfg.requests.is_some() && cfg.duration.is_none() {
            "number-of-requests".into()
        } else {
            "timed".into()
        },
        number_of_requests: cfg.requests,
        test_duration_seconds: duration.map(|d| d.as_secs_f64()),
        method: cfg.method.clone(),
        url: cfg.url.clone(),
        headers: cfg
            .headers
            .iter()
            .map(|(k, v)| SpecHeader {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        body: String::from_utf8_lossy(&cfg.body).into_owned(),
        stream: cfg.stream,
        timeout_seconds: cfg.timeout.as_secs_f64(),
        client: "loadgen".into(),
        keep_alive: cfg.keep_alive,
        rate: cfg.rate,
        threads: results.len(),
        protocol: match (cfg.http2 || cfg.h2c, cfg.url.starts_with("https://")) {
            (false, _) => "HTTP/1.1",
            (true, true) => "HTTP/2",
            (true, false) => "h2c",
        }
        .into(),
        pipeline: cfg.pipeline,
        streams: if cfg.http2 || cfg.h2c { cfg.streams } else { 1 },
    };
    Report { spec, result: r }
}
