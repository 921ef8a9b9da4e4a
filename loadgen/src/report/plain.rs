//! Plain-text output in bombardier's layout.

use std::io::{self, Write};

use super::{LATENCY_PERCENTILES, LatencyStats, Report};

impl Report {
    /// Writes the result in bombardier's plain layout; `latencies` adds the percentile table
    /// (`-l`).
    ///
    /// ```
    /// let mut out = Vec::new();
    /// loadgen::report::Report::default().write_plain(&mut out, true).unwrap();
    /// assert!(String::from_utf8(out).unwrap().contains("Reqs/sec"));
    /// ```
    pub fn write_plain(&self, w: &mut impl Write, latencies: bool) -> io::Result<()> {
        let r = &self.result;
        writeln!(
            w,
            "{:<12}{:>12}{:>12}{:>12}",
            "Statistics", "Avg", "Stdev", "Max"
        )?;
        writeln!(
            w,
            "  {:<10}{:>12.2}{:>12.2}{:>12.2}",
            "Reqs/sec", r.rps.mean, r.rps.stddev, r.rps.max
        )?;
        latency_row(w, "Latency", &r.latency)?;
        if let Some(c) = &r.corrected_latency {
            latency_row(w, "Corrected", c)?;
        }
        if let Some(c) = &r.connect_latency {
            latency_row(w, "Connect", c)?;
        }
        if latencies {
            writeln!(w, "  Latency Distribution")?;
            let corrected = r.corrected_latency.as_ref();
            if corrected.is_some() {
                writeln!(w, "  {:>7} {:>12} {:>12}", "", "from send", "corrected")?;
            }
            for (k, _) in LATENCY_PERCENTILES {
                let v = r.latency.percentiles.get(k).copied().unwrap_or(0);
                write!(w, "  {:>6}% {:>12}", k, micros(v as f64))?;
                if let Some(c) = corrected {
                    let cv = c.percentiles.get(k).copied().unwrap_or(0);
                    write!(w, " {:>12}", micros(cv as f64))?;
                }
                writeln!(w)?;
            }
            write!(w, "  {:>7} {:>12}", "max", micros(r.latency.max))?;
            if let Some(c) = corrected {
                write!(w, " {:>12}", micros(c.max))?;
            }
            writeln!(w)?;
        }
        writeln!(w, "  HTTP codes:")?;
        writeln!(
            w,
            "    1xx - {}, 2xx - {}, 3xx - {}, 4xx - {}, 5xx - {}",
            r.req1xx, r.req2xx, r.req3xx, r.req4xx, r.req5xx
        )?;
        writeln!(w, "    others - {}", r.others)?;
        if r.error_classes.total() > 0 {
            writeln!(w, "  Errors:")?;
            for (name, count) in r.error_classes.iter() {
                if count > 0 {
                    writeln!(w, "    {name:>10} - {count}")?;
                }
            }
        } else if !r.errors.is_empty() {
            writeln!(w, "  Errors:")?;
            for e in &r.errors {
                writeln!(w, "    {} - {}", e.description, e.count)?;
            }
        }
        if r.in_flight_at_deadline > 0 {
            writeln!(
                w,
                "  In flight at deadline (not counted): {}",
                r.in_flight_at_deadline
            )?;
        }
        if r.corrected_latency.is_some() {
            writeln!(
                w,
                "  Late sends (connection busy at its slot): {}",
                r.late_sends
            )?;
        }
        let secs = r.time_taken_seconds.max(f64::MIN_POSITIVE);
        writeln!(
            w,
            "  Throughput: {:>10}/s",
            bytes((r.bytes_read + r.bytes_written) as f64 / secs)
        )?;
        let window = if r.rps_window_ms > 0 {
            format!("stdev/max over {} ms windows", r.rps_window_ms)
        } else {
            "sampling window unknown".to_string()
        };
        writeln!(
            w,
            "  ({} requests in {:.2}s; Reqs/sec avg = requests / time, {window}; client CPU {:.2}s{})",
            r.requests,
            r.time_taken_seconds,
            r.client_cpu_seconds,
            if r.requests > 0 {
                format!(
                    " = {:.2} µs/request",
                    r.client_cpu_seconds * 1e6 / r.requests as f64
                )
            } else {
                String::new()
            },
        )?;
        Ok(())
    }
}

fn latency_row(w: &mut impl Write, name: &str, l: &LatencyStats) -> io::Result<()> {
    writeln!(
        w,
        "  {:<10}{:>12}{:>12}{:>12}",
        name,
        micros(l.mean),
        micros(l.stddev),
        micros(l.max)
    )
}

/// Formats µs like bombardier: `512.00us`, `1.23ms`, `2.50s`.
fn micros(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.2}us")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{:.2}s", us / 1_000_000.0)
    }
}

fn bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.2}{}", UNITS[i])
}
