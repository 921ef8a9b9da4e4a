//! The request, encoded once per run. The header block is HPACK without Huffman coding and
//! without the dynamic table (RFC 7541: indexed static entries where they match exactly, else
//! literals without indexing, with the static table's name where it has one), so it is the same
//! bytes for every request: only the frame header's stream id changes from one stream to the next.

use super::frame::{self, DEFAULT_MAX_FRAME, flag, kind};
use super::hpack::STATIC_TABLE;

/// The request, prepared once per run.
#[derive(Debug)]
pub(crate) struct H2Request {
    /// The HPACK header block.
    block: Vec<u8>,
    /// The body, sent in DATA frames.
    pub(super) body: Vec<u8>,
}

impl H2Request {
    /// Appends the HEADERS frame opening `stream` (and CONTINUATION frames for a block larger
    /// than a frame). Without a body, the HEADERS end the stream.
    pub(super) fn write_headers(&self, out: &mut Vec<u8>, stream: u32) {
        let end_stream = if self.body.is_empty() {
            flag::END_STREAM
        } else {
            0
        };
        if self.block.len() <= DEFAULT_MAX_FRAME {
            frame::write_header(
                out,
                self.block.len(),
                kind::HEADERS,
                end_stream | flag::END_HEADERS,
                stream,
            );
            out.extend_from_slice(&self.block);
            return;
        }
        let mut chunks = self.block.chunks(DEFAULT_MAX_FRAME).peekable();
        let mut first = true;
        while let Some(chunk) = chunks.next() {
            let end_headers = if chunks.peek().is_none() {
                flag::END_HEADERS
            } else {
                0
            };
            let (kind, flags) = if first {
                (kind::HEADERS, end_stream | end_headers)
            } else {
                (kind::CONTINUATION, end_headers)
            };
            frame::write_header(out, chunk.len(), kind, flags, stream);
            out.extend_from_slice(chunk);
            first = false;
        }
    }
}

/// An HPACK integer with an `n`-bit prefix, the prefix's other bits set to `first`.
fn encode_integer(out: &mut Vec<u8>, first: u8, n: u32, mut value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
}

/// An HPACK string literal, not Huffman-coded.
fn encode_string(out: &mut Vec<u8>, s: &[u8]) {
    encode_integer(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

/// Appends one header field: indexed if the static table has it, else a literal without
/// indexing (RFC 7541 §6.2.2), with an indexed name where the static table has the name.
fn encode_field(out: &mut Vec<u8>, name: &str, value: &str) {
    if let Some(i) = STATIC_TABLE
        .iter()
        .position(|&(n, v)| n == name && v == value && !v.is_empty())
    {
        encode_integer(out, 0x80, 7, i + 1);
        return;
    }
    match STATIC_TABLE.iter().position(|&(n, _)| n == name) {
        Some(i) => encode_integer(out, 0x00, 4, i + 1),
        None => {
            out.push(0x00);
            encode_string(out, name.as_bytes());
        }
    }
    encode_string(out, value.as_bytes());
}

/// Builds the HTTP/2 request from the target and the user's headers (hop-by-hop headers, which
/// HTTP/2 forbids, are dropped; `Host` becomes `:authority`; `user-agent` defaults to
/// `loadgen`; `content-length` is added with a body or for POST, PUT and PATCH).
pub(crate) fn build_request(
    tls: bool,
    authority: &str,
    path: &str,
    method: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<H2Request, String> {
    let mut authority = authority.to_string();
    let mut fields: Vec<(String, String)> = Vec::with_capacity(headers.len() + 2);
    for (k, v) in headers {
        let lower = k.to_ascii_lowercase();
        match lower.as_str() {
            "host" => authority = v.trim().to_string(),
            "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade"
            | "te" => {}
            _ => {
                // The `http` crate's rules for names and values, as with the `h2` client before.
                http::HeaderName::from_bytes(lower.as_bytes())
                    .map_err(|e| format!("invalid header name {k:?}: {e}"))?;
                let value = v.trim();
                http::HeaderValue::from_str(value)
                    .map_err(|e| format!("invalid header value for {k:?}: {e}"))?;
                fields.push((lower, value.to_string()));
            }
        }
    }
    if !fields.iter().any(|(n, _)| n == "user-agent") {
        fields.push(("user-agent".into(), "loadgen".into()));
    }
    let needs_length = !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH");
    if needs_length && !fields.iter().any(|(n, _)| n == "content-length") {
        fields.push(("content-length".into(), body.len().to_string()));
    }
    let authority: http::uri::Authority = authority
        .parse()
        .map_err(|e| format!("invalid request URI: {e}"))?;
    let path: http::uri::PathAndQuery = path
        .parse()
        .map_err(|e| format!("invalid request URI: {e}"))?;
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("invalid method {method:?}"))?;

    let mut block = Vec::with_capacity(128);
    encode_field(&mut block, ":method", method.as_str());
    encode_field(&mut block, ":scheme", if tls { "https" } else { "http" });
    encode_field(&mut block, ":authority", authority.as_str());
    encode_field(&mut block, ":path", path.as_str());
    for (name, value) in &fields {
        encode_field(&mut block, name, value);
    }
    Ok(H2Request {
        block,
        body: body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::http2::frame::{Frame, FrameReader};

    fn decoded(r: &H2Request) -> Vec<(String, String)> {
        let mut decoder = loona_hpack::Decoder::new();
        decoder
            .decode(&r.block)
            .unwrap()
            .into_iter()
            .map(|(n, v)| (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap()))
            .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_get_uses_the_static_table() {
        let r = build_request(false, "127.0.0.1:8080", "/", "GET", &[], b"").unwrap();
        assert_eq!(
            decoded(&r),
            pairs(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":authority", "127.0.0.1:8080"),
                (":path", "/"),
                ("user-agent", "loadgen"),
            ])
        );
        // :method GET, :scheme http, :authority (name 1), :path /, user-agent (name 58: 15 + 43).
        let mut expected = vec![0x82, 0x86, 0x01, 14];
        expected.extend_from_slice(b"127.0.0.1:8080");
        expected.extend_from_slice(&[0x84, 0x0f, 43, 7]);
        expected.extend_from_slice(b"loadgen");
        assert_eq!(r.block, expected);
    }

    #[test]
    fn headers_body_and_host_are_encoded() {
        let headers = [
            ("Host".to_string(), " example.com ".to_string()),
            ("Connection".to_string(), "keep-alive".to_string()),
            ("X-Custom".to_string(), "a b".to_string()),
            ("Accept-Encoding".to_string(), "gzip, deflate".to_string()),
            ("User-Agent".to_string(), "me".to_string()),
        ];
        let r = build_request(true, "localhost:1", "/a?b=c", "POST", &headers, b"hello").unwrap();
        assert_eq!(
            decoded(&r),
            pairs(&[
                (":method", "POST"),
                (":scheme", "https"),
                (":authority", "example.com"),
                (":path", "/a?b=c"),
                ("x-custom", "a b"),
                ("accept-encoding", "gzip, deflate"),
                ("user-agent", "me"),
                ("content-length", "5"),
            ])
        );
        assert_eq!(&r.block[..2], [0x83, 0x87]);
        assert_eq!(r.body, b"hello");
        let put = build_request(false, "h", "/", "PUT", &[], b"").unwrap();
        assert!(decoded(&put).contains(&("content-length".into(), "0".into())));
        let custom = build_request(false, "h", "/x", "PURGE", &[], b"").unwrap();
        assert_eq!(decoded(&custom)[0], (":method".into(), "PURGE".into()));
    }

    #[test]
    fn bad_input_is_an_error() {
        let bad_name = [("bad name".to_string(), "x".to_string())];
        assert!(build_request(false, "h", "/", "GET", &bad_name, b"").is_err());
        let bad_value = [("x".to_string(), "a\u{1}b".to_string())];
        assert!(build_request(false, "h", "/", "GET", &bad_value, b"").is_err());
        assert!(build_request(false, "h", "/", "G T", &[], b"").is_err());
        assert!(build_request(false, "a b", "/", "GET", &[], b"").is_err());
    }

    #[test]
    fn long_integers_and_blocks_larger_than_a_frame() {
        let mut out = Vec::new();
        encode_integer(&mut out, 0, 5, 1337);
        assert_eq!(out, [31, 154, 10]);
        let long = [("x-long".to_string(), "v".repeat(40_000))];
        let r = build_request(false, "h", "/", "GET", &long, b"").unwrap();
        assert_eq!(decoded(&r)[4].1.len(), 40_000);
        let mut out = Vec::new();
        r.write_headers(&mut out, 5);
        // HEADERS then CONTINUATION frames, which the reader joins into the same block.
        assert_eq!(out[3], kind::HEADERS);
        let mut reader = FrameReader::new(64 * 1024);
        let mut blocks = Vec::new();
        for piece in out.chunks(10_000) {
            reader.space()[..piece.len()].copy_from_slice(piece);
            reader.filled(piece.len());
            while let Some(f) = reader.next_frame().unwrap() {
                if let Frame::Headers {
                    stream,
                    end_stream,
                    block,
                } = f
                {
                    blocks.push((stream, end_stream, block.to_vec()));
                }
            }
        }
        assert_eq!(blocks, [(5, true, r.block.clone())]);
    }
}
