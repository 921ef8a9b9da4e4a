//! The request, encoded once per run. HPACK without Huffman coding (RFC 7541), in three header
//! blocks that never change: the first request of a connection adds its literal fields to the
//! server's dynamic table ("literal with incremental indexing"), every later one names them by
//! their dynamic indices, which stay put because nothing else is ever added (one byte a field,
//! like h2load: the server then copies no strings per request). Fields that match a static
//! entry are indexed statically; a field that does not fit the 4096-byte table stays a literal
//! without indexing. The third block uses no dynamic table at all, for a server that asks for a
//! smaller table. Per request only the frame header's stream id changes.

use super::frame::{self, DEFAULT_MAX_FRAME, flag, kind};
use super::hpack::{STATIC_TABLE, TABLE_SIZE};

/// Which header block a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Block {
    /// The first request of a connection: fills the server's dynamic table.
    First,
    /// Every later request: refers to the dynamic table.
    Indexed,
    /// No dynamic table (the server's table is smaller than ours would need).
    Plain,
}

/// The request, prepared once per run.
#[derive(Debug)]
pub(crate) struct H2Request {
    /// The HPACK header blocks ([`Block`]).
    first: Vec<u8>,
    indexed: Vec<u8>,
    plain: Vec<u8>,
    /// The body, sent in DATA frames.
    pub(super) body: Vec<u8>,
}

impl H2Request {
    fn block(&self, block: Block) -> &[u8] {
        match block {
            Block::First => &self.first,
            Block::Indexed => &self.indexed,
            Block::Plain => &self.plain,
        }
    }

    /// Appends the HEADERS frame opening `stream` (and CONTINUATION frames for a block larger
    /// than a frame), `prefix` (a dynamic table size update) before the block. Without a body,
    /// the HEADERS end the stream.
    pub(super) fn write_headers(
        &self,
        out: &mut Vec<u8>,
        stream: u32,
        block: Block,
        prefix: &[u8],
    ) {
        let end_stream = if self.body.is_empty() {
            flag::END_STREAM
        } else {
            0
        };
        let fragment = self.block(block);
        if prefix.len() + fragment.len() <= DEFAULT_MAX_FRAME {
            frame::write_header(
                out,
                prefix.len() + fragment.len(),
                kind::HEADERS,
                end_stream | flag::END_HEADERS,
                stream,
            );
            out.extend_from_slice(prefix);
            out.extend_from_slice(fragment);
            return;
        }
        let whole = [prefix, fragment].concat();
        let mut chunks = whole.chunks(DEFAULT_MAX_FRAME).peekable();
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

/// A dynamic table size update (RFC 7541 §6.3) to `size`.
pub(super) fn size_update(size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    encode_integer(&mut out, 0x20, 5, size);
    out
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

/// The static table's index of exactly this field, if it has it.
fn static_field(name: &str, value: &str) -> Option<usize> {
    STATIC_TABLE
        .iter()
        .position(|&(n, v)| n == name && v == value && !v.is_empty())
        .map(|i| i + 1)
}

/// Appends a literal field, without indexing (`0x00`, 4-bit name index) or with incremental
/// indexing (`0x40`, 6-bit name index), with the static table's name where it has the name.
fn encode_literal(out: &mut Vec<u8>, indexing: bool, name: &str, value: &str) {
    let (first, bits) = if indexing { (0x40, 6) } else { (0x00, 4) };
    match STATIC_TABLE.iter().position(|&(n, _)| n == name) {
        Some(i) => encode_integer(out, first, bits, i + 1),
        None => {
            out.push(first);
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

    let scheme = if tls { "https" } else { "http" };
    let mut all: Vec<(&str, &str)> = vec![
        (":method", method.as_str()),
        (":scheme", scheme),
        (":authority", authority.as_str()),
        (":path", path.as_str()),
    ];
    all.extend(fields.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    // Each field's static index, if it has one, and whether it goes into the dynamic table
    // (the others, in order, as long as they fit).
    let mut table = 0;
    let placed: Vec<(Option<usize>, bool)> = all
        .iter()
        .map(|&(n, v)| {
            let statically = static_field(n, v);
            let size = n.len() + v.len() + 32;
            let fits = statically.is_none() && table + size <= TABLE_SIZE;
            if fits {
                table += size;
            }
            (statically, fits)
        })
        .collect();
    let added = placed.iter().filter(|&&(_, dynamic)| dynamic).count();
    let (mut first, mut repeat, mut plain) = (Vec::new(), Vec::new(), Vec::new());
    let mut position = 0;
    for (&(name, value), &(statically, index)) in all.iter().zip(&placed) {
        if let Some(i) = statically {
            for block in [&mut first, &mut repeat, &mut plain] {
                encode_integer(block, 0x80, 7, i);
            }
            continue;
        }
        encode_literal(&mut plain, false, name, value);
        if index {
            encode_literal(&mut first, true, name, value);
            // The newest entry is index 62: the one added at `position` is this far back.
            encode_integer(&mut repeat, 0x80, 7, 62 + (added - 1 - position));
            position += 1;
        } else {
            encode_literal(&mut first, false, name, value);
            encode_literal(&mut repeat, false, name, value);
        }
    }
    Ok(H2Request {
        first,
        indexed: repeat,
        plain,
        body: body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::http2::frame::{Frame, FrameReader};

    fn decode(decoder: &mut loona_hpack::Decoder, block: &[u8]) -> Vec<(String, String)> {
        decoder
            .decode(block)
            .unwrap()
            .into_iter()
            .map(|(n, v)| (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap()))
            .collect()
    }

    /// The fields of the request, checked to be the same in every block: the first block and
    /// then the indexed one (twice) through one decoder, as on a connection, and the plain
    /// block through a decoder of its own.
    fn decoded(r: &H2Request) -> Vec<(String, String)> {
        let mut decoder = loona_hpack::Decoder::new();
        let fields = decode(&mut decoder, &r.first);
        assert_eq!(decode(&mut decoder, &r.indexed), fields);
        assert_eq!(decode(&mut decoder, &r.indexed), fields);
        assert_eq!(decode(&mut loona_hpack::Decoder::new(), &r.plain), fields);
        // A table size update to 0 first: the plain block needs no table.
        let mut emptied = loona_hpack::Decoder::new();
        decode(&mut emptied, &r.first);
        let mut block = size_update(0);
        block.extend_from_slice(&r.plain);
        assert_eq!(decode(&mut emptied, &block), fields);
        fields
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
        assert_eq!(r.plain, expected);
        // The same with incremental indexing, then the two dynamic entries by index.
        let mut expected = vec![0x82, 0x86, 0x41, 14];
        expected.extend_from_slice(b"127.0.0.1:8080");
        expected.extend_from_slice(&[0x84, 0x40 | 58, 7]);
        expected.extend_from_slice(b"loadgen");
        assert_eq!(r.first, expected);
        assert_eq!(r.indexed, [0x82, 0x86, 0x80 | 63, 0x84, 0x80 | 62]);
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
        assert_eq!(&r.indexed[..2], [0x83, 0x87]);
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
        // Too large for the dynamic table: a literal in every block.
        assert!(r.indexed.len() > 40_000 && r.first.len() > 40_000);
        let mut out = Vec::new();
        r.write_headers(&mut out, 5, Block::Indexed, &size_update(100));
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
        let mut expected = size_update(100);
        expected.extend_from_slice(&r.indexed);
        assert_eq!(blocks, [(5, true, expected)]);
    }
}
