//! [`split_host_port`]: the `HOST:PORT` form of an address to listen on or connect to, checked
//! before anything is resolved or bound (for command lines: a bad value is refused at once).

/// Splits `HOST:PORT` into host and port, or `None` if `s` is not of that form: HOST is a DNS
/// name or IPv4 address (letters, digits, `-`, `.`, `_`; at most 253 bytes) or an IPv6 address
/// in brackets, PORT is decimal digits up to 65535 (0 included: "any free port" to a listener).
/// Nothing is resolved: `[::1]:80` gives host `[::1]`, as `ToSocketAddrs` reads it.
///
/// ```
/// use tcpserver::split_host_port;
///
/// assert_eq!(split_host_port("127.0.0.1:8080"), Some(("127.0.0.1", 8080)));
/// assert_eq!(split_host_port("[::1]:0"), Some(("[::1]", 0)));
/// assert_eq!(split_host_port("localhost:443"), Some(("localhost", 443)));
/// assert_eq!(split_host_port("127.0.0.1"), None);
/// assert_eq!(split_host_port("h:99999"), None);
/// assert_eq!(split_host_port("[x]:80"), None);
/// ```
pub fn split_host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host_ok = match host.strip_prefix('[') {
        Some(v6) => v6
            .strip_suffix(']')
            .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok()),
        None => {
            !host.is_empty()
                && host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        }
    };
    if !host_ok || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((host, port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("h:0"), Some(("h", 0)));
        assert_eq!(split_host_port("a-b.c_d:65535"), Some(("a-b.c_d", 65535)));
        for bad in [
            "", ":80", "h:", "h:x", "h:-1", "h:+80", "h:65536", "é:80", "a b:80", "h!:80",
            "[::1:80", "[::1]", "::1:80", "h:80/p", "u@h:80",
        ] {
            assert_eq!(split_host_port(bad), None, "{bad}");
        }
        assert_eq!(split_host_port(&format!("{}:1", "x".repeat(254))), None);
    }
}
