//! HDR histograms in reports: summaries, and the base64 V2-deflate form that merges exactly.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

use super::{LatencyStats, RpsStats};

/// Latency percentiles reported (keys of `latency.percentiles`).
pub const LATENCY_PERCENTILES: [(&str, f64); 7] = [
    ("50", 50.0),
    ("75", 75.0),
    ("90", 90.0),
    ("95", 95.0),
    ("99", 99.0),
    ("99.9", 99.9),
    ("99.99", 99.99),
];

/// Rate percentiles reported (keys of `rps.percentiles`).
pub const RPS_PERCENTILES: [(&str, f64); 5] = [
    ("50", 50.0),
    ("75", 75.0),
    ("90", 90.0),
    ("95", 95.0),
    ("99", 99.0),
];

/// A new latency histogram: 1 µs to 60 s, 3 significant digits.
pub fn new_latency_histogram() -> Histogram<u64> {
    // The bounds are constants known to be valid.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Why a serialized histogram could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid histogram: {0}")]
pub struct HistogramError(String);

/// Serializes `h` as base64 of the HdrHistogram V2 deflate encoding.
///
/// ```
/// use loadgen::report::{decode_histogram, encode_histogram, new_latency_histogram};
/// let mut h = new_latency_histogram();
/// h.record(150).unwrap();
/// let back = decode_histogram(&encode_histogram(&h)).unwrap();
/// assert_eq!(back.len(), 1);
/// ```
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut bytes) {
        Ok(_) => STANDARD.encode(bytes),
        Err(e) => {
            tracing::warn!("histogram serialization failed: {e:?}");
            String::new()
        }
    }
}

/// Reads a histogram written by [`encode_histogram`]; the empty string is an empty histogram.
pub fn decode_histogram(s: &str) -> Result<Histogram<u64>, HistogramError> {
    if s.is_empty() {
        return Ok(new_latency_histogram());
    }
    let bytes = STANDARD
        .decode(s.trim())
        .map_err(|e| HistogramError(format!("base64: {e}")))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| HistogramError(format!("{e:?}")))?;
    // Re-home into our bounds so that adding histograms never fails.
    let mut out = new_latency_histogram();
    for v in h.iter_recorded() {
        out.saturating_record_n(v.value_iterated_to(), v.count_at_value());
    }
    Ok(out)
}

/// Mean, standard deviation, max and percentiles of `h` (µs).
pub fn latency_stats(h: &Histogram<u64>) -> LatencyStats {
    if h.is_empty() {
        return LatencyStats {
            percentiles: LATENCY_PERCENTILES
                .iter()
                .map(|(k, _)| (k.to_string(), 0))
                .collect(),
            ..Default::default()
        };
    }
    LatencyStats {
        mean: h.mean(),
        stddev: h.stdev(),
        max: h.max() as f64,
        percentiles: LATENCY_PERCENTILES
            .iter()
            .map(|&(k, q)| (k.to_string(), h.value_at_quantile(q / 100.0)))
            .collect(),
    }
}

/// Rate summary: `mean` = `requests / seconds`; stddev, max and percentiles over the per-window
/// samples (`samples[i]` requests in window `i` of `window_ms`).
pub fn rps_stats(samples: &[u64], window_ms: u64, requests: u64, seconds: f64) -> RpsStats {
    let mean = if seconds > 0.0 {
        requests as f64 / seconds
    } else {
        0.0
    };
    let per_s = |c: u64| c as f64 * 1000.0 / window_ms.max(1) as f64;
    let mut rates: Vec<f64> = samples.iter().map(|&c| per_s(c)).collect();
    rates.sort_by(f64::total_cmp);
    let n = rates.len();
    let stddev = if n == 0 {
        0.0
    } else {
        let m = rates.iter().sum::<f64>() / n as f64;
        (rates.iter().map(|r| (r - m) * (r - m)).sum::<f64>() / n as f64).sqrt()
    };
    let percentile = |q: f64| -> f64 {
        if n == 0 {
            return mean;
        }
        // Nearest-rank percentile.
        let rank = ((q / 100.0) * n as f64).ceil() as usize;
        rates[rank.clamp(1, n) - 1]
    };
    RpsStats {
        mean,
        stddev,
        max: rates.last().copied().unwrap_or(mean),
        percentiles: RPS_PERCENTILES
            .iter()
            .map(|&(k, q)| (k.to_string(), percentile(q)))
            .collect::<BTreeMap<_, _>>(),
    }
}
