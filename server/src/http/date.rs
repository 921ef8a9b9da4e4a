//! The `Date` header value, rendered at most once per second per thread.
//!
//! Like hyper's `common/date.rs`: formatting an IMF-fixdate costs more than the rest of a small
//! response head, so each thread keeps the last rendering and only checks the clock.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const HTTP_DATE_LEN: usize = 29;

thread_local! {
    /// (unix second of the rendering, rendering)
    static CACHE: Cell<(u64, [u8; HTTP_DATE_LEN])> = const { Cell::new((u64::MAX, [0; HTTP_DATE_LEN])) };
}

/// The current time as an IMF-fixdate (RFC 9110 5.6.7), re-rendered at most once per second on
/// each thread.
///
/// ```
/// let date = tcpserver::http::http_date();
/// assert_eq!(date.len(), 29);
/// assert!(date.ends_with(b" GMT"));
/// ```
pub fn http_date() -> [u8; HTTP_DATE_LEN] {
    let now = unix_seconds();
    CACHE.with(|cache| {
        let (second, rendered) = cache.get();
        if second == now {
            rendered
        } else {
            let rendered = render(now);
            cache.set((now, rendered));
            rendered
        }
    })
}

/// The current unix time in whole seconds, from the cheapest clock that has them: the coarse
/// real-time clock on Linux (a vDSO read without a hardware-counter access).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn unix_seconds() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    if rc == 0 {
        u64::try_from(ts.tv_sec).unwrap_or(0)
    } else {
        system_seconds()
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn unix_seconds() -> u64 {
    system_seconds()
}

fn system_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Appends [`http_date`] to `out`.
///
/// ```
/// let mut out = b"Date: ".to_vec();
/// tcpserver::http::append_http_date(&mut out);
/// assert_eq!(out.len(), 6 + 29);
/// ```
pub fn append_http_date(out: &mut Vec<u8>) {
    out.extend_from_slice(&http_date());
}

/// Formats unix seconds as an IMF-fixdate.
fn render(unix: u64) -> [u8; HTTP_DATE_LEN] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = unix / 86_400;
    let secs_of_day = unix % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two_digits(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    let year = year.min(9999);
    two_digits(&mut out[12..14], year / 100);
    two_digits(&mut out[14..16], year % 100);
    two_digits(&mut out[17..19], secs_of_day / 3600);
    two_digits(&mut out[20..22], secs_of_day / 60 % 60);
    two_digits(&mut out[23..25], secs_of_day % 60);
    out
}

fn two_digits(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31); Howard Hinnant's algorithm.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(&render(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&render(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&render(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&render(1_798_761_599), b"Thu, 31 Dec 2026 23:59:59 GMT");
    }

    #[test]
    fn cached_value_is_current() {
        let a = http_date();
        let b = http_date();
        // Equal unless the second changed in between.
        assert!(a == b || a[..20] == b[..20]);
        // The coarse clock agrees with the precise one to the second.
        let diff = unix_seconds().abs_diff(system_seconds());
        assert!(diff <= 1, "{diff}");
    }
}
