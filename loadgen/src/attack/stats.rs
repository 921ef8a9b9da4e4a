//! Per-thread statistics: plain fields owned by one client thread (no locks, no shared atomics per
//! request), merged by the coordinating thread at the end. Once per second each thread ships a
//! small per-second histogram so the coordinator can build the timeline without storing samples.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::report::{ErrorClasses, new_latency_histogram};

/// Width of the windows req/s is sampled over.
pub(crate) const WINDOW: Duration = Duration::from_millis(100);
/// Windows per timeline second.
const WINDOWS_PER_SECOND: usize = 10;

/// Error class of a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    Connect,
    Timeout,
    Read,
    Write,
    Parse,
    PeerClosed,
    /// HTTP/2: the server reset the stream (RST_STREAM; a REFUSED_STREAM of a stream sent
    /// before the server's SETTINGS is not an error: the request is sent again).
    Reset,
    /// HTTP/2: the server sent GOAWAY before answering.
    GoAway,
    /// HTTP/2: a protocol or framing error ended the connection.
    Protocol,
}

impl ErrorClass {
    /// The class of an I/O error on an established connection: the peer closing or resetting
    /// it is [`ErrorClass::PeerClosed`], anything else [`ErrorClass::Read`].
    pub(crate) fn of_io_error(e: &std::io::Error) -> ErrorClass {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof => ErrorClass::PeerClosed,
            _ => ErrorClass::Read,
        }
    }
}

/// One second of one thread, sent to the coordinator.
#[derive(Debug)]
pub(crate) struct SecondReport {
    /// 1-based second.
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    /// Latency histogram of the second (2 significant digits: enough for p50/p99).
    pub hist: Histogram<u64>,
}

pub(crate) fn new_second_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 2).expect("valid histogram bounds")
}

#[derive(Debug)]
pub(crate) struct ThreadStats {
    /// Start of the measured period (after warmup); requests started before are not recorded.
    measure_start: Instant,
    /// End of a timed run; responses completing later count as in flight.
    deadline: Option<Instant>,
    pub latency: Histogram<u64>,
    pub corrected: Option<Histogram<u64>>,
    pub connect: Histogram<u64>,
    /// 1xx, 2xx, 3xx, 4xx, 5xx, others.
    pub status: [u64; 6],
    pub errors: ErrorClasses,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub late_sends: u64,
    pub in_flight_at_deadline: u64,
    pub requests: u64,
    pub last_done: Option<Instant>,
    /// Completed requests per full window.
    pub windows: Vec<u64>,
    next_window_at: Instant,
    window_count: u64,
    sec_requests: u64,
    sec_errors: u64,
    sec_hist: Histogram<u64>,
    seconds: Option<Sender<SecondReport>>,
    progress: Arc<AtomicU64>,
}

impl ThreadStats {
    pub(crate) fn new(
        measure_start: Instant,
        deadline: Option<Instant>,
        rate_mode: bool,
        seconds: Sender<SecondReport>,
        progress: Arc<AtomicU64>,
    ) -> Self {
        ThreadStats {
            measure_start,
            deadline,
            latency: new_latency_histogram(),
            corrected: rate_mode.then(new_latency_histogram),
            connect: new_latency_histogram(),
            status: [0; 6],
            errors: ErrorClasses::default(),
            bytes_read: 0,
            bytes_written: 0,
            late_sends: 0,
            in_flight_at_deadline: 0,
            requests: 0,
            last_done: None,
            windows: Vec::new(),
            next_window_at: measure_start + WINDOW,
            window_count: 0,
            sec_requests: 0,
            sec_errors: 0,
            sec_hist: new_second_histogram(),
            seconds: Some(seconds),
            progress,
        }
    }

    /// Whether an attempt started at `start` is part of the measurement; if it finished after
    /// the deadline it is counted as in flight instead.
    fn measured(&mut self, start: Instant, done: Instant) -> bool {
        if start < self.measure_start {
            return false;
        }
        if self.deadline.is_some_and(|d| done > d) {
            self.in_flight_at_deadline += 1;
            return false;
        }
        self.roll(done);
        self.last_done = Some(done);
        true
    }

    /// A complete response. `intended` is the scheduled send time in rate mode.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn response(
        &mut self,
        sent: Instant,
        intended: Option<Instant>,
        done: Instant,
        status: u16,
        bytes_read: u64,
        bytes_written: u64,
    ) {
        let start = intended.unwrap_or(sent);
        if !self.measured(start, done) {
            return;
        }
        let us = micros(done - sent);
        self.latency.saturating_record(us);
        self.sec_hist.saturating_record(us);
        if let (Some(h), Some(i)) = (self.corrected.as_mut(), intended) {
            // From the slot, or from the actual send if that was (slightly) earlier.
            h.saturating_record(micros(done.saturating_duration_since(i.min(sent))));
        }
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            500..=599 => 4,
            _ => 5,
        };
        self.status[class] += 1;
        self.requests += 1;
        self.window_count += 1;
        self.sec_requests += 1;
        self.bytes_read += bytes_read;
        self.bytes_written += bytes_written;
    }

    /// A failed attempt.
    pub(crate) fn error(
        &mut self,
        start: Instant,
        done: Instant,
        class: ErrorClass,
        bytes_read: u64,
        bytes_written: u64,
    ) {
        if !self.measured(start, done) {
            return;
        }
        let e = &mut self.errors;
        match class {
            ErrorClass::Connect => e.connect += 1,
            ErrorClass::Timeout => e.timeout += 1,
            ErrorClass::Read => e.read += 1,
            ErrorClass::Write => e.write += 1,
            ErrorClass::Parse => e.parse += 1,
            ErrorClass::PeerClosed => e.peer_closed += 1,
            ErrorClass::Reset => e.rst_stream += 1,
            ErrorClass::GoAway => e.go_away += 1,
            ErrorClass::Protocol => e.protocol += 1,
        }
        self.sec_errors += 1;
        self.bytes_read += bytes_read;
        self.bytes_written += bytes_written;
    }

    /// A connection established at `done` after starting at `start`.
    pub(crate) fn connected(&mut self, start: Instant, done: Instant) {
        if start >= self.measure_start && self.deadline.is_none_or(|d| done <= d) {
            self.connect.saturating_record(micros(done - start));
        }
    }

    /// A send in rate mode that could not leave on time because the connection was busy.
    pub(crate) fn late_send(&mut self, intended: Instant) {
        if intended >= self.measure_start && self.deadline.is_none_or(|d| intended <= d) {
            self.late_sends += 1;
        }
    }

    /// Closes the windows (and seconds) that ended before `now`.
    fn roll(&mut self, now: Instant) {
        while now >= self.next_window_at {
            self.windows.push(self.window_count);
            self.window_count = 0;
            self.next_window_at += WINDOW;
            if self.windows.len().is_multiple_of(WINDOWS_PER_SECOND) {
                self.send_second((self.windows.len() / WINDOWS_PER_SECOND) as u64);
            }
            self.progress
                .store(self.requests + self.errors.total(), Ordering::Relaxed);
        }
    }

    fn send_second(&mut self, second: u64) {
        let hist = std::mem::replace(&mut self.sec_hist, new_second_histogram());
        // The coordinator may be gone if the run was abandoned; nothing to do then.
        let report = SecondReport {
            second,
            requests: std::mem::take(&mut self.sec_requests),
            errors: std::mem::take(&mut self.sec_errors),
            hist,
        };
        if let Some(tx) = &self.seconds {
            let _ = tx.send(report);
        }
    }

    /// Ends the run at `end`: closes full windows and ships a last partial second if it has data.
    pub(crate) fn finish(&mut self, end: Instant) {
        self.roll(end);
        if self.sec_requests > 0 || self.sec_errors > 0 {
            let second = (self.windows.len() / WINDOWS_PER_SECOND) as u64 + 1;
            self.send_second(second);
        }
        self.progress
            .store(self.requests + self.errors.total(), Ordering::Relaxed);
        // Dropping the sender tells the coordinator this thread is done.
        self.seconds = None;
    }
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}
