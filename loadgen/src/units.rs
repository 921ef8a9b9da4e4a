//! The units of every loadgen command line and scenario file, in one grammar: durations, CPU
//! lists and start times.
//!
//! - Durations: humantime's grammar (`10s`, `500ms`, `1m30s`, `1.5s`, `250us`, `2h`), or a bare
//!   number of seconds (`2`, `0.5`); at most [`MAX_DURATION`].
//! - CPU lists: `1`, `0,2`, `2-3`, `0-1,4`; each CPU at most once, below [`MAX_CPUS`].
//! - Start times: RFC 3339 (`2026-11-27T01:00:00Z`, `2026-11-27T02:00:00.5+01:00`), Unix seconds
//!   (`1795741200`), or `+DURATION` from now.
//! - CPU lists written out: [`format_cpu_list`] (`0-3`), [`format_cpu_list_commas`] (`0,1,2,3`).
//! - Timestamps written out: RFC 3339 in UTC ([`format_timestamp`]), and the run directory form
//!   ([`format_dir_timestamp`]).
//!
//! Every parser returns a one-line message on bad input and never panics.
//!
//! ```
//! use std::time::Duration;
//! use loadgen::units::{parse_cpu_list, parse_duration};
//!
//! assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
//! assert_eq!(parse_cpu_list("0,2-3"), Ok(vec![0, 2, 3]));
//! assert!(parse_cpu_list("0,1,0").is_err());
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest duration any flag or scenario file accepts (a year): longer ones are typos, and
/// instants that far away would overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// CPUs numbered from this on are refused (`CPU_SETSIZE` of Linux's `sched_setaffinity`).
pub const MAX_CPUS: usize = tcpserver::CpuSet::MAX;

/// How far ahead a start time may lie (a start a day away is a typo, not a plan).
pub const MAX_START_DELAY: Duration = Duration::from_secs(24 * 3600);

/// Parses a duration: humantime's grammar, or a bare number of seconds.
///
/// ```
/// use std::time::Duration;
/// use loadgen::units::parse_duration;
///
/// assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
/// assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
/// assert!(parse_duration("-1s").is_err());
/// assert!(parse_duration("NaN").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    let bad = |why: &str| {
        format!(
            "invalid duration `{}`: {why} (e.g. 10s, 500ms, 1m30s)",
            show(s)
        )
    };
    if text.is_empty() {
        return Err(bad("empty"));
    }
    let d = if is_decimal(text) {
        // Only digits and one dot here, so `NaN`, `inf` and `1e309` never reach the float parser.
        text.parse::<f64>()
            .ok()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
            .ok_or_else(|| bad("out of range"))?
    } else {
        humantime::parse_duration(text).map_err(|e| bad(&e.to_string()))?
    };
    if d > MAX_DURATION {
        return Err(bad("longer than a year"));
    }
    Ok(d)
}

/// Like [`parse_duration`], but zero is refused.
///
/// ```
/// assert!(loadgen::units::parse_positive_duration("0s").is_err());
/// assert!(loadgen::units::parse_positive_duration("1ms").is_ok());
/// ```
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        Duration::ZERO => Err(format!("invalid duration `{}`: must be positive", show(s))),
        d => Ok(d),
    }
}

/// Formats a duration the way [`parse_duration`] reads it back (`10s`, `500ms`, `1.5s`).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(loadgen::units::format_duration(Duration::from_millis(1500)), "1.5s");
/// assert_eq!(loadgen::units::format_duration(Duration::from_millis(200)), "200ms");
/// ```
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) && d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else if d < Duration::from_millis(1) {
        format!("{}us", d.as_micros())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// Parses a CPU list: `1`, `0,2`, `2-3`, `0-1,4`. A CPU given twice (`0,1,0`, `0-2,1`) is an
/// error, and so is a CPU at or above [`MAX_CPUS`]. The grammar is the tcpserver library's
/// ([`tcpserver::CpuSet`]), so the responder's `--pin-cpus` reads the same lists.
///
/// ```
/// use loadgen::units::parse_cpu_list;
/// assert_eq!(parse_cpu_list("0-1,4"), Ok(vec![0, 1, 4]));
/// assert!(parse_cpu_list("3-1").is_err());
/// assert!(parse_cpu_list("").is_err());
/// ```
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    s.parse::<tcpserver::CpuSet>()
        .map(|set| set.cpus().to_vec())
        .map_err(|e| e.to_string())
}

/// Writes a CPU list the way [`parse_cpu_list`] reads it back, compactly: `0`, `0,1`, `0,2,5`,
/// or `0-3` for three or more consecutive CPUs.
///
/// ```
/// assert_eq!(loadgen::units::format_cpu_list(&[0, 1, 2, 3]), "0-3");
/// assert_eq!(loadgen::units::format_cpu_list(&[0, 1]), "0,1");
/// ```
pub fn format_cpu_list(cpus: &[usize]) -> String {
    if cpus.len() > 2 && cpus.windows(2).all(|w| w[1] == w[0] + 1) {
        format!("{}-{}", cpus[0], cpus[cpus.len() - 1])
    } else {
        format_cpu_list_commas(cpus)
    }
}

/// Writes a CPU list with commas only, `0,1,2,3`: the form every tool reads (`taskset -c`,
/// `--pin-cpus`, a contender's `{cpus}`).
///
/// ```
/// assert_eq!(loadgen::units::format_cpu_list_commas(&[0, 1, 2, 3]), "0,1,2,3");
/// ```
pub fn format_cpu_list_commas(cpus: &[usize]) -> String {
    cpus.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A CPU list as one command-line value (`--cpus 0,2-3`), parsed by [`parse_cpu_list`].
///
/// ```
/// let cpus: loadgen::units::CpuList = "0,2-3".parse().unwrap();
/// assert_eq!(cpus.0, [0, 2, 3]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

impl std::str::FromStr for CpuList {
    type Err = String;

    fn from_str(s: &str) -> Result<CpuList, String> {
        parse_cpu_list(s).map(CpuList)
    }
}

/// Parses a start time: RFC 3339 with any offset, Unix seconds (fractions allowed), or
/// `+DURATION` from now. Times more than [`MAX_START_DELAY`] ahead are refused; times in the
/// past are accepted (the run starts at once).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use loadgen::units::parse_start_at;
///
/// let t = parse_start_at("2026-11-27T01:00:00Z"); // in the past: start at once
/// assert_eq!(t, Ok(UNIX_EPOCH + Duration::from_secs(1_795_741_200)));
/// assert!(parse_start_at("2026-11-27T01:00:00+01x00").is_err());
/// assert!(parse_start_at("+5s").is_ok());
/// ```
pub fn parse_start_at(s: &str) -> Result<SystemTime, String> {
    parse_start_at_from(s, SystemTime::now())
}

fn parse_start_at_from(s: &str, now: SystemTime) -> Result<SystemTime, String> {
    let text = s.trim();
    let bad = |why: &str| {
        format!(
            "invalid start time `{}`: {why} (use RFC 3339 like 2026-11-27T01:00:00Z, Unix \
             seconds, or +5s)",
            show(s)
        )
    };
    let at = if let Some(rel) = text.strip_prefix('+') {
        now + parse_duration(rel).map_err(|e| bad(&e))?
    } else if is_decimal(text) {
        text.parse::<f64>()
            .ok()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
            .and_then(|d| UNIX_EPOCH.checked_add(d))
            .ok_or_else(|| bad("out of range"))?
    } else {
        let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map_err(|e| bad(&e.to_string()))?;
        let nanos = u64::try_from(t.unix_timestamp_nanos()).map_err(|_| bad("before 1970"))?;
        UNIX_EPOCH + Duration::from_nanos(nanos)
    };
    if at
        .duration_since(now)
        .is_ok_and(|ahead| ahead > MAX_START_DELAY)
    {
        return Err(bad("more than a day ahead"));
    }
    Ok(at)
}

/// `2026-11-26T23:45:07Z`: `time` in UTC, to the second, as RFC 3339 (which
/// [`parse_start_at`] reads back). Times before 1970 are written as 1970-01-01T00:00:00Z.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_secs(1_795_736_707);
/// assert_eq!(loadgen::units::format_timestamp(t), "2026-11-26T23:45:07Z");
/// ```
pub fn format_timestamp(time: SystemTime) -> String {
    let t = utc(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2026-11-26T234507Z`: like [`format_timestamp`] without the time's colons, a directory name
/// that sorts by time and is valid everywhere.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_secs(1_795_736_707);
/// assert_eq!(loadgen::units::format_dir_timestamp(t), "2026-11-26T234507Z");
/// ```
pub fn format_dir_timestamp(time: SystemTime) -> String {
    format_timestamp(time).replace(':', "")
}

/// `time` in UTC, whole seconds.
fn utc(time: SystemTime) -> time::OffsetDateTime {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Digits with at most one dot, and a digit somewhere: `2`, `0.5`, `.5`.
fn is_decimal(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|&b| b == b'.').count() <= 1
}

/// A bad value as it appears in a message: on one line, and cut short when long.
pub fn show(s: &str) -> String {
    const MAX: usize = 60;
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    match one_line.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &one_line[..i]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (text, d) in [
            ("10s", Duration::from_secs(10)),
            ("500ms", Duration::from_millis(500)),
            ("1m30s", Duration::from_secs(90)),
            ("1.5s", Duration::from_millis(1500)),
            ("250us", Duration::from_micros(250)),
            ("2h", Duration::from_secs(7200)),
            ("2", Duration::from_secs(2)),
            ("0s", Duration::ZERO),
            (" 3s ", Duration::from_secs(3)),
        ] {
            assert_eq!(parse_duration(text), Ok(d), "{text}");
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{text}");
        }
        for bad in [
            "",
            "10x",
            "-1s",
            "-1",
            "NaN",
            "inf",
            "1e309",
            "s",
            "1..2",
            "é",
            "+é",
            "400d",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_positive_duration("0").is_err());
        let long = "9".repeat(5000);
        assert!(parse_duration(&long).unwrap_err().len() < 200);
    }

    #[test]
    fn cpu_lists() {
        // The grammar and its corner cases are tested with tcpserver::CpuSet.
        assert_eq!(parse_cpu_list(" 0 , 2-3 "), Ok(vec![0, 2, 3]));
        let err = parse_cpu_list("0-2,1").unwrap_err();
        assert!(
            err.contains("`0-2,1`") && err.contains("CPU 1 is listed twice"),
            "{err}"
        );
        assert!(parse_cpu_list(&MAX_CPUS.to_string()).is_err());
        for cpus in [&[0][..], &[0, 1], &[0, 1, 2, 3], &[1, 3, 4, 5]] {
            assert_eq!(parse_cpu_list(&format_cpu_list(cpus)).unwrap(), cpus);
            assert_eq!(parse_cpu_list(&format_cpu_list_commas(cpus)).unwrap(), cpus);
        }
    }

    #[test]
    fn start_times() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_700_000);
        let at = |s| parse_start_at_from(s, now);
        let t = UNIX_EPOCH + Duration::from_secs(1_795_741_200);
        assert_eq!(at("2026-11-27T01:00:00Z"), Ok(t));
        assert_eq!(at("2026-11-27T02:00:00+01:00"), Ok(t));
        assert_eq!(at("1795741200"), Ok(t));
        assert_eq!(
            at("2026-11-27T01:00:00.25Z"),
            Ok(t + Duration::from_millis(250))
        );
        assert_eq!(at("+5s"), Ok(now + Duration::from_secs(5)));
        assert_eq!(at("1"), Ok(UNIX_EPOCH + Duration::from_secs(1)));
        for bad in [
            "yesterday",
            "2026-11-27T01:00:00+01x00",
            "2026-11-27T01:00:00+0é:0",
            "2026-13-27T01:00:00Z",
            "2026-11-27T01:00:00",
            "2026-11-29T01:00:00Z",
            "+é",
            "+",
            "",
            "NaN",
            "1e309",
            "-1",
            "99999999999999999999",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(at(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_736_707);
        assert_eq!(format_timestamp(t), "2026-11-26T23:45:07Z");
        assert_eq!(format_dir_timestamp(t), "2026-11-26T234507Z");
        assert_eq!(format_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_timestamp(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            format_timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        let now = SystemTime::now();
        let written = format_timestamp(now);
        let read = parse_start_at_from(&written, now).unwrap();
        assert!(now.duration_since(read).unwrap() < Duration::from_secs(1));
    }

    #[test]
    fn shown_values_are_short_and_on_one_line() {
        assert_eq!(show("a\nb"), "a?b");
        assert_eq!(show(&"é".repeat(100)).chars().count(), 63);
    }
}
