//! `loadgen merge`: combines the reports of several processes exactly. Histograms are added and
//! the percentiles recomputed (never averaged); counts are summed; rates are summed over the
//! interval common to all runs, aligned by wall-clock start.

use hdrhistogram::Histogram;

use super::{
    Report, RunResult, TimelinePoint, decode_histogram, encode_histogram, latency_stats,
    new_latency_histogram, rps_stats,
};

/// Why reports cannot be merged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no reports to merge")]
    Empty,
    /// A report's histogram is unreadable (not written by loadgen?).
    #[error("report {index}: {source}")]
    Histogram {
        /// Position of the report in the input.
        index: usize,
        /// What is wrong.
        source: super::HistogramError,
    },
    /// The runs used different sampling windows.
    #[error("reports use different rate windows ({0} ms and {1} ms)")]
    Window(u64, u64),
    /// The runs do not overlap in time, so their rates cannot be summed.
    #[error("the runs do not overlap in time (start them together, e.g. with --start-at)")]
    NoOverlap,
}

/// The sums of a run, added up the same way whether the parts are the threads of one process
/// (the load engine) or the reports of several processes ([`merge`]): counters summed,
/// histograms added, summaries computed once from the sums.
#[derive(Debug)]
pub(crate) struct Totals {
    counts: RunResult,
    latency: Histogram<u64>,
    corrected: Option<Histogram<u64>>,
    connect: Option<Histogram<u64>>,
}

impl Totals {
    /// Empty totals; `corrected`: the parts have coordinated-omission corrected histograms.
    pub(crate) fn new(corrected: bool) -> Self {
        Totals {
            counts: RunResult::default(),
            latency: new_latency_histogram(),
            corrected: corrected.then(new_latency_histogram),
            connect: None,
        }
    }

    /// Adds the counters of `x`: bytes, status classes, requests, errors, late sends, in flight
    /// at the deadline, client CPU.
    pub(crate) fn add_counts(&mut self, x: &RunResult) {
        let r = &mut self.counts;
        r.bytes_read += x.bytes_read;
        r.bytes_written += x.bytes_written;
        r.req1xx += x.req1xx;
        r.req2xx += x.req2xx;
        r.req3xx += x.req3xx;
        r.req4xx += x.req4xx;
        r.req5xx += x.req5xx;
        r.others += x.others;
        r.requests += x.requests;
        r.in_flight_at_deadline += x.in_flight_at_deadline;
        r.late_sends += x.late_sends;
        r.error_classes.add(&x.error_classes);
        r.client_cpu_seconds += x.client_cpu_seconds;
    }

    /// Adds a part's histograms (`corrected` is ignored unless the totals were made for it).
    pub(crate) fn add_histograms(
        &mut self,
        latency: &Histogram<u64>,
        corrected: Option<&Histogram<u64>>,
        connect: Option<&Histogram<u64>>,
    ) {
        let _ = self.latency.add(latency);
        if let (Some(c), Some(x)) = (self.corrected.as_mut(), corrected) {
            let _ = c.add(x);
        }
        if let Some(x) = connect {
            let _ = self
                .connect
                .get_or_insert_with(new_latency_histogram)
                .add(x);
        }
    }

    /// The summed counters with the error list, latency summaries and encoded histograms.
    pub(crate) fn finish(self) -> RunResult {
        let mut r = self.counts;
        r.errors = r.error_classes.error_list();
        r.latency = latency_stats(&self.latency);
        r.histogram = encode_histogram(&self.latency);
        if let Some(c) = &self.corrected {
            r.corrected_latency = Some(latency_stats(c));
            r.corrected_histogram = Some(encode_histogram(c));
        }
        if let Some(c) = &self.connect {
            r.connect_latency = Some(latency_stats(c));
            r.connect_histogram = Some(encode_histogram(c));
        }
        r
    }
}

/// Merges `reports` into one; see the module documentation.
///
/// ```
/// use loadgen::report::{merge, Report};
/// let mut a = Report::default();
/// a.result.req2xx = 3;
/// let merged = merge(&[a.clone(), a]).unwrap();
/// assert_eq!(merged.result.req2xx, 6);
/// ```
pub fn merge(reports: &[Report]) -> Result<Report, MergeError> {
    let first = reports.first().ok_or(MergeError::Empty)?;
    let mut spec = first.spec.clone();
    let all_corrected = reports
        .iter()
        .all(|x| x.result.corrected_histogram.is_some());
    let mut totals = Totals::new(all_corrected);
    for (index, rep) in reports.iter().enumerate() {
        let x = &rep.result;
        let decode =
            |s: &str| decode_histogram(s).map_err(|source| MergeError::Histogram { index, source });
        if index > 0 {
            spec.number_of_connections += rep.spec.number_of_connections;
            spec.threads += rep.spec.threads;
            spec.number_of_requests = match (spec.number_of_requests, rep.spec.number_of_requests) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
            spec.rate = match (spec.rate, rep.spec.rate) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
        }
        totals.add_counts(x);
        let corrected = match (all_corrected, &x.corrected_histogram) {
            (true, Some(c)) => Some(decode(c)?),
            _ => None,
        };
        let connect = x.connect_histogram.as_deref().map(decode).transpose()?;
        totals.add_histograms(&decode(&x.histogram)?, corrected.as_ref(), connect.as_ref());
    }
    let mut out = Report {
        spec,
        result: totals.finish(),
    };
    let r = &mut out.result;

    // Rates over the common interval, window by window.
    let window = first.result.rps_window_ms;
    for rep in reports {
        if rep.result.rps_window_ms != window {
            return Err(MergeError::Window(window, rep.result.rps_window_ms));
        }
    }
    let have_windows = window > 0 && reports.iter().all(|x| !x.result.rps_samples.is_empty());
    if have_windows {
        let start = reports
            .iter()
            .map(|x| x.result.started_at_unix_ms)
            .max()
            .unwrap_or(0);
        let end = reports
            .iter()
            .map(|x| x.result.started_at_unix_ms + x.result.rps_samples.len() as u64 * window)
            .min()
            .unwrap_or(0);
        if end <= start {
            return Err(MergeError::NoOverlap);
        }
        let n = ((end - start) / window) as usize;
        let mut samples = vec![0u64; n];
        for rep in reports {
            // Round the offset to the nearest window: processes start within milliseconds.
            let offset = ((start - rep.result.started_at_unix_ms + window / 2) / window) as usize;
            for (s, v) in samples
                .iter_mut()
                .zip(rep.result.rps_samples.iter().skip(offset))
            {
                *s += v;
            }
        }
        let seconds = n as f64 * window as f64 / 1000.0;
        let in_common: u64 = samples.iter().sum();
        r.rps = rps_stats(&samples, window, in_common, seconds);
        r.rps_samples = samples;
        r.rps_window_ms = window;
        r.started_at_unix_ms = start;
        r.time_taken_seconds = seconds;
    } else {
        // Foreign reports (e.g. bombardier's) carry no windows: sum the means.
        r.rps.mean = reports.iter().map(|x| x.result.rps.mean).sum();
        r.rps.max = reports.iter().map(|x| x.result.rps.max).sum();
        r.time_taken_seconds = reports
            .iter()
            .map(|x| x.result.time_taken_seconds)
            .fold(0.0, f64::max);
    }

    // Timeline: seconds aligned by start time; counts summed; per-second percentiles cannot be
    // merged without their histograms, so the merged p50/p99 are the maximum (an upper bound).
    let t0 = reports
        .iter()
        .map(|x| x.result.started_at_unix_ms)
        .min()
        .unwrap_or(0);
    let mut timeline: std::collections::BTreeMap<u64, TimelinePoint> = Default::default();
    for rep in reports {
        let shift = (rep.result.started_at_unix_ms - t0 + 500) / 1000;
        for p in &rep.result.timeline {
            let e = timeline
                .entry(p.second + shift)
                .or_insert_with(|| TimelinePoint {
                    second: p.second + shift,
                    ..Default::default()
                });
            e.requests += p.requests;
            e.errors += p.errors;
            e.p50 = e.p50.max(p.p50);
            e.p99 = e.p99.max(p.p99);
        }
    }
    r.timeline = timeline.into_values().collect();
    Ok(out)
}
