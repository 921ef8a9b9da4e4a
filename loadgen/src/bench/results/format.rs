//! How numbers look in tables, charts and the console: request rates, latencies, percentages
//! (CPU lists: [`crate::units::format_cpu_list`]).

/// Formats a request rate: `123456` -> `123.5k`.
pub fn format_rps(rps: f64) -> String {
    if rps >= 1e6 {
        format!("{:.2}M", rps / 1e6)
    } else if rps >= 1e3 {
        format!("{:.1}k", rps / 1e3)
    } else {
        format!("{rps:.0}")
    }
}

/// Formats a latency in µs: `850µs`, `12.3ms`, `1.20s`.
pub fn format_latency_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2}s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.1}ms", us / 1e3)
    } else {
        format!("{us:.0}µs")
    }
}

/// Formats CPU microseconds per request: `12.3µs`.
pub fn format_cpu_us(us: f64) -> String {
    format!("{us:.1}µs")
}

/// Parses a percentage, `5%` or `5` (both mean 5 %), into a fraction (`0.05`).
///
/// ```
/// assert_eq!(loadgen::bench::results::parse_percent("5%"), Ok(0.05));
/// assert_eq!(loadgen::bench::results::parse_percent("0.5"), Ok(0.005));
/// assert!(loadgen::bench::results::parse_percent("-1%").is_err());
/// ```
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let number = s.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(p) if p.is_finite() && (0.0..=1000.0).contains(&p) => Ok(p / 100.0),
        _ => Err(format!(
            "`{s}` is not a percentage (expected e.g. `5%` or `0.5%`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_rps(123_456.0), "123.5k");
        assert_eq!(format_latency_us(850.0), "850µs");
        assert_eq!(format_latency_us(12_345.0), "12.3ms");
        assert_eq!(parse_percent("1%"), Ok(0.01));
        assert!(parse_percent("x").is_err());
    }
}
