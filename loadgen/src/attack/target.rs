//! The target URL and the request bytes, built once per run.

use std::net::{SocketAddr, ToSocketAddrs};

use super::AttackError;

/// A parsed `http://` / `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub tls: bool,
    /// Host name or IP literal (without brackets).
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Value for the `Host` header.
    pub authority: String,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Target, AttackError> {
        let bad = |reason: &str| AttackError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        // Schemes are case-insensitive (RFC 3986 3.1): `HTTP://host/` is `http://host/`.
        let scheme = url.split_once("://").filter(|(scheme, _)| {
            scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        });
        let (tls, rest) = match scheme {
            Some((s, rest)) if s.eq_ignore_ascii_case("http") => (false, rest),
            Some((s, rest)) if s.eq_ignore_ascii_case("https") => (true, rest),
            Some(_) => return Err(bad("only http:// and https:// are supported")),
            None => (false, url), // bombardier accepts host:port/path too
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        let path = path.split('#').next().unwrap_or("/").to_string();
        if authority.contains('@') {
            return Err(bad("user info in URLs is not supported"));
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or_else(|| bad("unclosed '[' in host"))?;
            let port = match &v6[end + 1..] {
                "" => default_port,
                p => p
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| bad("invalid port"))?,
            };
            (v6[..end].to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad("invalid port"))?),
                None => (authority.to_string(), default_port),
            }
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        // A DNS name or an IP literal: nothing else is looked up (IDNs go in as punycode).
        let v6 = authority.starts_with('[');
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b) || (v6 && b"%:".contains(&b)))
        {
            return Err(bad("invalid host"));
        }
        if path
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(bad("whitespace in path"));
        }
        Ok(Target {
            tls,
            host,
            port,
            path,
            authority: authority.to_string(),
        })
    }

    /// Resolves the host; IPv4 addresses first.
    pub(crate) fn resolve(&self) -> Result<SocketAddr, AttackError> {
        let host = format!("{}:{}", self.host, self.port);
        let err = |source| AttackError::Resolve {
            host: host.clone(),
            source,
        };
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(err)?
            .collect();
        addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or_else(|| err(std::io::Error::other("no addresses")))
    }
}

/// Serializes the request once: request line, `Host`, user headers, `Content-Length` (or, with
/// `chunked`, `Transfer-Encoding: chunked` and the body as one chunk), and `Connection: close`
/// when keep-alive is off.
pub(crate) fn build_request(
    target: &Target,
    method: &str,
    headers: &[(String, String)],
    body: &[u8],
    keep_alive: bool,
    chunked: bool,
) -> Result<Vec<u8>, AttackError> {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if !token(method) {
        return Err(AttackError::Config(format!("invalid method {method:?}")));
    }
    let mut req = Vec::with_capacity(256 + body.len());
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(target.path.as_bytes());
    req.extend_from_slice(b" HTTP/1.1\r\n");
    let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if !has("host") {
        req.extend_from_slice(b"Host: ");
        req.extend_from_slice(target.authority.as_bytes());
        req.extend_from_slice(b"\r\n");
    }
    if !has("user-agent") {
        req.extend_from_slice(b"User-Agent: loadgen\r\n");
    }
    for (k, v) in headers {
        if !token(k) || v.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(AttackError::Config(format!("invalid header {k:?}: {v:?}")));
        }
        if k.eq_ignore_ascii_case("connection") && !keep_alive {
            continue;
        }
        req.extend_from_slice(k.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v.trim().as_bytes());
        req.extend_from_slice(b"\r\n");
    }
    let needs_length = !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH");
    if chunked {
        if has("content-length") || has("transfer-encoding") {
            return Err(AttackError::Config(
                "a streamed (chunked) body cannot have its own Content-Length or \
                 Transfer-Encoding header"
                    .into(),
            ));
        }
        req.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    } else if needs_length && !has("content-length") {
        req.extend_from_slice(b"Content-Length: ");
        req.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        req.extend_from_slice(b"\r\n");
    }
    if !keep_alive {
        req.extend_from_slice(b"Connection: close\r\n");
    }
    req.extend_from_slice(b"\r\n");
    if chunked {
        encode_chunked(&mut req, body);
    } else {
        req.extend_from_slice(body);
    }
    Ok(req)
}

/// Appends `body` in chunked transfer coding (RFC 9112 7.1): one chunk, then the last chunk.
fn encode_chunked(out: &mut Vec<u8>, body: &[u8]) {
    if !body.is_empty() {
        out.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let t = Target::parse("http://127.0.0.1:8080/a?b=1#frag").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.path.as_str()),
            (false, "127.0.0.1", 8080, "/a?b=1")
        );
        let t = Target::parse("https://[::1]/").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.authority.as_str()),
            (true, "::1", 443, "[::1]")
        );
        let t = Target::parse("localhost:9000").unwrap();
        assert_eq!((t.port, t.path.as_str()), (9000, "/"));
        assert!(Target::parse("ftp://x/").is_err());
        assert!(Target::parse("HTTP://x/").is_ok_and(|t| !t.tls));
        assert!(Target::parse("http://é/").is_err());
        assert!(Target::parse("http://a b/").is_err());
        assert!(Target::parse("HttpS://x/").is_ok_and(|t| t.tls && t.port == 443));
        assert!(Target::parse("http://x:99999/").is_err());
        assert!(Target::parse("http:///").is_err());
    }

    #[test]
    fn builds_request() {
        let t = Target::parse("http://h:1/p").unwrap();
        let r = build_request(
            &t,
            "POST",
            &[("X-A".into(), "1".into())],
            b"hi",
            false,
            false,
        )
        .unwrap();
        assert_eq!(
            r,
            b"POST /p HTTP/1.1\r\nHost: h:1\r\nUser-Agent: loadgen\r\nX-A: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
        assert!(build_request(&t, "G T", &[], b"", true, false).is_err());
        assert!(
            build_request(
                &t,
                "GET",
                &[("A".into(), "x\r\ny".into())],
                b"",
                true,
                false
            )
            .is_err()
        );
        let r = build_request(&t, "PUT", &[], b"hello", true, true).unwrap();
        assert!(r.ends_with(b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
        let r = build_request(&t, "POST", &[], b"", true, true).unwrap();
        assert!(r.ends_with(b"chunked\r\n\r\n0\r\n\r\n"));
    }
}
