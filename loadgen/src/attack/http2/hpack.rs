//! HPACK decoding of response header blocks (RFC 7541), reduced to what the client needs: the
//! `:status` value, and a dynamic table kept in step with the server's encoder. The table holds
//! each entry's sizes and whether it is a `:status` field (with its value), never the bytes; a
//! string is Huffman-decoded only when its content matters (a `:status` name or value) or its
//! decoded length does (an entry added to the table); other strings are skipped unread. Nothing
//! is allocated per block once the table and the scratch buffer have grown.

use std::collections::VecDeque;
use std::sync::OnceLock;

/// Our SETTINGS_HEADER_TABLE_SIZE (the protocol's default, which we never change).
pub(super) const TABLE_SIZE: usize = 4096;

/// HPACK's static table (RFC 7541 Appendix A), index 1 first.
pub(super) const STATIC_TABLE: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// The block is not valid HPACK: a connection error (COMPRESSION_ERROR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DecodeError;

/// What a header block says about the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Fields {
    /// The `:status` value, if the block has one that is three digits.
    pub status: Option<u16>,
    /// The block has a `:status` field that is not three digits.
    pub bad_status: bool,
}

impl Fields {
    fn note(&mut self, status: Option<u16>) {
        match status {
            Some(s) => self.status = Some(s),
            None => self.bad_status = true,
        }
    }
}

/// A table entry as far as we care: its name's length, its size (RFC 7541 §4.1: name and
/// value lengths plus 32) and, for a `:status` field, the parsed value.
#[derive(Debug, Clone, Copy)]
struct Entry {
    name_len: usize,
    size: usize,
    status_name: bool,
    status: Option<u16>,
}

/// One connection's decoder.
#[derive(Debug)]
pub(super) struct Decoder {
    table: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    /// Huffman-decoded bytes of the current string.
    scratch: Vec<u8>,
}

/// A string literal in the block.
#[derive(Clone, Copy)]
struct Literal<'a> {
    huffman: bool,
    bytes: &'a [u8],
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            table: VecDeque::new(),
            size: 0,
            max_size: TABLE_SIZE,
            scratch: Vec::with_capacity(64),
        }
    }
}

impl Decoder {
    /// Decodes one complete header block.
    pub(super) fn decode(&mut self, block: &[u8]) -> Result<Fields, DecodeError> {
        let mut fields = Fields::default();
        let mut pos = 0;
        while let Some(&b) = block.get(pos) {
            if b & 0x80 != 0 {
                // Indexed field.
                let (index, used) = integer(&block[pos..], 7)?;
                pos += used;
                let entry = self.entry(index)?;
                if entry.status_name {
                    fields.note(entry.status);
                }
            } else if b & 0xe0 == 0x20 {
                // Dynamic table size update.
                let (size, used) = integer(&block[pos..], 5)?;
                pos += used;
                if size > TABLE_SIZE {
                    return Err(DecodeError);
                }
                self.max_size = size;
                self.evict(0);
            } else {
                // A literal: with incremental indexing (01), else without (0000) or never
                // indexed (0001).
                let indexing = b & 0xc0 == 0x40;
                let (index, used) = integer(&block[pos..], if indexing { 6 } else { 4 })?;
                pos += used;
                let (status_name, name_len) = if index == 0 {
                    let (name, used) = literal(&block[pos..])?;
                    pos += used;
                    let name = self.decoded(name)?;
                    (name == b":status", name.len())
                } else {
                    let entry = self.entry(index)?;
                    (entry.status_name, entry.name_len)
                };
                let (value, used) = literal(&block[pos..])?;
                pos += used;
                if !status_name && !indexing {
                    continue; // nothing to learn from it
                }
                let value = self.decoded(value)?;
                let (status, value_len) = (parse_status(value), value.len());
                let status = status.filter(|_| status_name);
                if status_name {
                    fields.note(status);
                }
                if indexing {
                    self.insert(Entry {
                        name_len,
                        size: name_len + value_len + 32,
                        status_name,
                        status,
                    });
                }
            }
        }
        Ok(fields)
    }

    /// The entry at `index` of the static table followed by the dynamic table.
    fn entry(&self, index: usize) -> Result<Entry, DecodeError> {
        match index {
            0 => Err(DecodeError),
            1..=61 => {
                let (name, value) = STATIC_TABLE[index - 1];
                Ok(Entry {
                    name_len: name.len(),
                    size: name.len() + value.len() + 32,
                    status_name: name == ":status",
                    status: parse_status(value.as_bytes()),
                })
            }
            _ => self.table.get(index - 62).copied().ok_or(DecodeError),
        }
    }

    /// The bytes of a string literal, Huffman-decoded if need be.
    fn decoded<'a>(&'a mut self, s: Literal<'a>) -> Result<&'a [u8], DecodeError> {
        if !s.huffman {
            return Ok(s.bytes);
        }
        self.scratch.clear();
        huffman_decode(s.bytes, &mut self.scratch)?;
        Ok(&self.scratch)
    }

    fn insert(&mut self, entry: Entry) {
        if entry.size > self.max_size {
            // Larger than the table: it empties the table and is not added (§4.4).
            self.table.clear();
            self.size = 0;
            return;
        }
        self.evict(entry.size);
        self.size += entry.size;
        self.table.push_front(entry);
    }

    /// Evicts the oldest entries until `room` more bytes fit.
    fn evict(&mut self, room: usize) {
        while self.size + room > self.max_size {
            match self.table.pop_back() {
                Some(e) => self.size -= e.size,
                None => break,
            }
        }
    }
}

/// A `:status` value: three digits.
pub(super) fn parse_status(value: &[u8]) -> Option<u16> {
    match value {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// An integer with an `n`-bit prefix (§5.1) and the bytes it took. Values are capped at 2^28
/// (what four continuation bytes hold), which no valid block exceeds.
fn integer(buf: &[u8], n: u32) -> Result<(usize, usize), DecodeError> {
    let max = (1usize << n) - 1;
    let mut value = usize::from(*buf.first().ok_or(DecodeError)?) & max;
    if value < max {
        return Ok((value, 1));
    }
    for (i, &b) in buf.iter().enumerate().skip(1).take(4) {
        value += usize::from(b & 0x7f) << (7 * (i - 1));
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(DecodeError)
}

/// A string literal (§5.2) and the bytes it took.
fn literal(buf: &[u8]) -> Result<(Literal<'_>, usize), DecodeError> {
    let huffman = buf.first().ok_or(DecodeError)? & 0x80 != 0;
    let (len, used) = integer(buf, 7)?;
    let bytes = buf.get(used..used + len).ok_or(DecodeError)?;
    Ok((Literal { huffman, bytes }, used + len))
}

/// The Huffman code (RFC 7541 Appendix B): (code, length in bits) of symbols 0 to 256 (EOS).
const HUFFMAN_CODE: [(u32, u8); 257] = [
    (0x1ff8, 13),
    (0x7fffd8, 23),
    (0xfffffe2, 28),
    (0xfffffe3, 28),
    (0xfffffe4, 28),
    (0xfffffe5, 28),
    (0xfffffe6, 28),
    (0xfffffe7, 28),
    (0xfffffe8, 28),
    (0xffffea, 24),
    (0x3ffffffc, 30),
    (0xfffffe9, 28),
    (0xfffffea, 28),
    (0x3ffffffd, 30),
    (0xfffffeb, 28),
    (0xfffffec, 28),
    (0xfffffed, 28),
    (0xfffffee, 28),
    (0xfffffef, 28),
    (0xffffff0, 28),
    (0xffffff1, 28),
    (0xffffff2, 28),
    (0x3ffffffe, 30),
    (0xffffff3, 28),
    (0xffffff4, 28),
    (0xffffff5, 28),
    (0xffffff6, 28),
    (0xffffff7, 28),
    (0xffffff8, 28),
    (0xffffff9, 28),
    (0xffffffa, 28),
    (0xffffffb, 28),
    (0x14, 6),
    (0x3f8, 10),
    (0x3f9, 10),
    (0xffa, 12),
    (0x1ff9, 13),
    (0x15, 6),
    (0xf8, 8),
    (0x7fa, 11),
    (0x3fa, 10),
    (0x3fb, 10),
    (0xf9, 8),
    (0x7fb, 11),
    (0xfa, 8),
    (0x16, 6),
    (0x17, 6),
    (0x18, 6),
    (0x0, 5),
    (0x1, 5),
    (0x2, 5),
    (0x19, 6),
    (0x1a, 6),
    (0x1b, 6),
    (0x1c, 6),
    (0x1d, 6),
    (0x1e, 6),
    (0x1f, 6),
    (0x5c, 7),
    (0xfb, 8),
    (0x7ffc, 15),
    (0x20, 6),
    (0xffb, 12),
    (0x3fc, 10),
    (0x1ffa, 13),
    (0x21, 6),
    (0x5d, 7),
    (0x5e, 7),
    (0x5f, 7),
    (0x60, 7),
    (0x61, 7),
    (0x62, 7),
    (0x63, 7),
    (0x64, 7),
    (0x65, 7),
    (0x66, 7),
    (0x67, 7),
    (0x68, 7),
    (0x69, 7),
    (0x6a, 7),
    (0x6b, 7),
    (0x6c, 7),
    (0x6d, 7),
    (0x6e, 7),
    (0x6f, 7),
    (0x70, 7),
    (0x71, 7),
    (0x72, 7),
    (0xfc, 8),
    (0x73, 7),
    (0xfd, 8),
    (0x1ffb, 13),
    (0x7fff0, 19),
    (0x1ffc, 13),
    (0x3ffc, 14),
    (0x22, 6),
    (0x7ffd, 15),
    (0x3, 5),
    (0x23, 6),
    (0x4, 5),
    (0x24, 6),
    (0x5, 5),
    (0x25, 6),
    (0x26, 6),
    (0x27, 6),
    (0x6, 5),
    (0x74, 7),
    (0x75, 7),
    (0x28, 6),
    (0x29, 6),
    (0x2a, 6),
    (0x7, 5),
    (0x2b, 6),
    (0x76, 7),
    (0x2c, 6),
    (0x8, 5),
    (0x9, 5),
    (0x2d, 6),
    (0x77, 7),
    (0x78, 7),
    (0x79, 7),
    (0x7a, 7),
    (0x7b, 7),
    (0x7ffe, 15),
    (0x7fc, 11),
    (0x3ffd, 14),
    (0x1ffd, 13),
    (0xffffffc, 28),
    (0xfffe6, 20),
    (0x3fffd2, 22),
    (0xfffe7, 20),
    (0xfffe8, 20),
    (0x3fffd3, 22),
    (0x3fffd4, 22),
    (0x3fffd5, 22),
    (0x7fffd9, 23),
    (0x3fffd6, 22),
    (0x7fffda, 23),
    (0x7fffdb, 23),
    (0x7fffdc, 23),
    (0x7fffdd, 23),
    (0x7fffde, 23),
    (0xffffeb, 24),
    (0x7fffdf, 23),
    (0xffffec, 24),
    (0xffffed, 24),
    (0x3fffd7, 22),
    (0x7fffe0, 23),
    (0xffffee, 24),
    (0x7fffe1, 23),
    (0x7fffe2, 23),
    (0x7fffe3, 23),
    (0x7fffe4, 23),
    (0x1fffdc, 21),
    (0x3fffd8, 22),
    (0x7fffe5, 23),
    (0x3fffd9, 22),
    (0x7fffe6, 23),
    (0x7fffe7, 23),
    (0xffffef, 24),
    (0x3fffda, 22),
    (0x1fffdd, 21),
    (0xfffe9, 20),
    (0x3fffdb, 22),
    (0x3fffdc, 22),
    (0x7fffe8, 23),
    (0x7fffe9, 23),
    (0x1fffde, 21),
    (0x7fffea, 23),
    (0x3fffdd, 22),
    (0x3fffde, 22),
    (0xfffff0, 24),
    (0x1fffdf, 21),
    (0x3fffdf, 22),
    (0x7fffeb, 23),
    (0x7fffec, 23),
    (0x1fffe0, 21),
    (0x1fffe1, 21),
    (0x3fffe0, 22),
    (0x1fffe2, 21),
    (0x7fffed, 23),
    (0x3fffe1, 22),
    (0x7fffee, 23),
    (0x7fffef, 23),
    (0xfffea, 20),
    (0x3fffe2, 22),
    (0x3fffe3, 22),
    (0x3fffe4, 22),
    (0x7ffff0, 23),
    (0x3fffe5, 22),
    (0x3fffe6, 22),
    (0x7ffff1, 23),
    (0x3ffffe0, 26),
    (0x3ffffe1, 26),
    (0xfffeb, 20),
    (0x7fff1, 19),
    (0x3fffe7, 22),
    (0x7ffff2, 23),
    (0x3fffe8, 22),
    (0x1ffffec, 25),
    (0x3ffffe2, 26),
    (0x3ffffe3, 26),
    (0x3ffffe4, 26),
    (0x7ffffde, 27),
    (0x7ffffdf, 27),
    (0x3ffffe5, 26),
    (0xfffff1, 24),
    (0x1ffffed, 25),
    (0x7fff2, 19),
    (0x1fffe3, 21),
    (0x3ffffe6, 26),
    (0x7ffffe0, 27),
    (0x7ffffe1, 27),
    (0x3ffffe7, 26),
    (0x7ffffe2, 27),
    (0xfffff2, 24),
    (0x1fffe4, 21),
    (0x1fffe5, 21),
    (0x3ffffe8, 26),
    (0x3ffffe9, 26),
    (0xffffffd, 28),
    (0x7ffffe3, 27),
    (0x7ffffe4, 27),
    (0x7ffffe5, 27),
    (0xfffec, 20),
    (0xfffff3, 24),
    (0xfffed, 20),
    (0x1fffe6, 21),
    (0x3fffe9, 22),
    (0x1fffe7, 21),
    (0x1fffe8, 21),
    (0x7ffff3, 23),
    (0x3fffea, 22),
    (0x3fffeb, 22),
    (0x1ffffee, 25),
    (0x1ffffef, 25),
    (0xfffff4, 24),
    (0xfffff5, 24),
    (0x3ffffea, 26),
    (0x7ffff4, 23),
    (0x3ffffeb, 26),
    (0x7ffffe6, 27),
    (0x3ffffec, 26),
    (0x3ffffed, 26),
    (0x7ffffe7, 27),
    (0x7ffffe8, 27),
    (0x7ffffe9, 27),
    (0x7ffffea, 27),
    (0x7ffffeb, 27),
    (0xffffffe, 28),
    (0x7ffffec, 27),
    (0x7ffffed, 27),
    (0x7ffffee, 27),
    (0x7ffffef, 27),
    (0x7fffff0, 27),
    (0x3ffffee, 26),
    (0x3fffffff, 30),
];

/// The Huffman code is canonical: the codes of one length are consecutive numbers, in the
/// order of their symbols by code. Decoding a code of length `l` is then one subtraction.
struct Canonical {
    /// Per length: the first code, how many codes, and where they start in `symbols`.
    first: [u32; 31],
    count: [u32; 31],
    offset: [u16; 31],
    /// Symbols ordered by (length, code).
    symbols: [u16; 257],
}

fn canonical() -> &'static Canonical {
    static TABLE: OnceLock<Canonical> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut order: Vec<u16> = (0..257).collect();
        order.sort_by_key(|&s| {
            let (code, len) = HUFFMAN_CODE[usize::from(s)];
            (len, code)
        });
        let mut c = Canonical {
            first: [0; 31],
            count: [0; 31],
            offset: [0; 31],
            symbols: [0; 257],
        };
        for (i, &s) in order.iter().enumerate() {
            let (code, len) = HUFFMAN_CODE[usize::from(s)];
            let len = usize::from(len);
            if c.count[len] == 0 {
                c.first[len] = code;
                c.offset[len] = i as u16;
            }
            c.count[len] += 1;
            c.symbols[i] = s;
        }
        c
    })
}

/// Appends the Huffman-decoded `bytes` (§5.2: the padding is the EOS code's first bits, at most
/// 7 of them, and EOS itself is an error).
fn huffman_decode(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let c = canonical();
    let (mut code, mut len) = (0u32, 0usize);
    for &byte in bytes {
        for shift in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> shift) & 1);
            len += 1;
            if len > 30 {
                return Err(DecodeError);
            }
            let i = code.wrapping_sub(c.first[len]);
            if i < c.count[len] {
                let symbol = c.symbols[usize::from(c.offset[len]) + i as usize];
                if symbol == 256 {
                    return Err(DecodeError);
                }
                out.push(symbol as u8);
                (code, len) = (0, 0);
            }
        }
    }
    if len > 7 || code != (1 << len) - 1 {
        return Err(DecodeError);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Huffman-encodes `s` (the test's encoder: the client itself never Huffman-codes).
    fn huffman(s: &[u8]) -> Vec<u8> {
        let (mut acc, mut bits) = (0u64, 0u32);
        let mut out = Vec::new();
        for &b in s {
            let (code, len) = HUFFMAN_CODE[usize::from(b)];
            acc = (acc << len) | u64::from(code);
            bits += u32::from(len);
            while bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        if bits > 0 {
            out.push(((acc << (8 - bits)) as u8) | ((1u8 << (8 - bits)) - 1));
        }
        out
    }

    fn huffman_literal(s: &[u8]) -> Vec<u8> {
        let h = huffman(s);
        let mut out = vec![0x80 | h.len() as u8];
        out.extend(h);
        out
    }

    fn plain_literal(s: &[u8]) -> Vec<u8> {
        let mut out = vec![s.len() as u8];
        out.extend_from_slice(s);
        out
    }

    #[test]
    fn the_huffman_code_is_canonical_and_every_byte_round_trips() {
        let c = canonical();
        for len in 1..=30 {
            let codes: Vec<u32> = (0..257)
                .filter(|&s| usize::from(HUFFMAN_CODE[s].1) == len)
                .map(|s| HUFFMAN_CODE[s].0)
                .collect();
            let mut sorted = codes.clone();
            sorted.sort_unstable();
            for (i, code) in sorted.iter().enumerate() {
                assert_eq!(*code, c.first[len] + i as u32, "length {len}");
            }
            assert_eq!(c.count[len] as usize, codes.len());
        }
        let all: Vec<u8> = (0..=255).collect();
        let mut out = Vec::new();
        huffman_decode(&huffman(&all), &mut out).unwrap();
        assert_eq!(out, all);
        for b in 0..=255u8 {
            out.clear();
            huffman_decode(&huffman(&[b]), &mut out).unwrap();
            assert_eq!(out, [b]);
        }
    }

    #[test]
    fn bad_huffman_strings_are_errors() {
        let mut out = Vec::new();
        // EOS (30 ones) inside the string; padding of 8 bits; padding that is not all ones.
        assert!(huffman_decode(&[0xff, 0xff, 0xff, 0xfc], &mut out).is_err());
        assert!(huffman_decode(&[0x0f, 0xff], &mut out).is_err()); // '0' = 00000, then 11 ones
        assert!(huffman_decode(&[0x00], &mut out).is_err()); // '0' then 000 padding
        out.clear();
        assert!(huffman_decode(&[0x07], &mut out).is_ok()); // '0' then 111 padding
        assert_eq!(out, b"0");
    }

    #[test]
    fn rfc7541_c4_1_adds_one_entry_of_57_bytes() {
        // :method GET, :scheme http, :path /, :authority www.example.com (Huffman, indexed).
        let block = [
            0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
            0x90, 0xf4, 0xff,
        ];
        let mut d = Decoder::default();
        assert_eq!(d.decode(&block), Ok(Fields::default()));
        assert_eq!((d.table.len(), d.size), (1, 57));
    }

    #[test]
    fn status_comes_from_every_representation() {
        let mut d = Decoder::default();
        let status = |d: &mut Decoder, block: &[u8]| d.decode(block).map(|f| f.status);
        assert_eq!(status(&mut d, &[0x88]), Ok(Some(200)));
        assert_eq!(status(&mut d, &[0x8d]), Ok(Some(404)));
        // Literal without indexing, name :status (index 8), value Huffman "503".
        let mut b = vec![0x08];
        b.extend(huffman_literal(b"503"));
        assert_eq!(status(&mut d, &b), Ok(Some(503)));
        // Never indexed, literal name, plain value.
        let mut b = vec![0x10];
        b.extend(plain_literal(b":status"));
        b.extend(plain_literal(b"302"));
        assert_eq!(status(&mut d, &b), Ok(Some(302)));
        // With incremental indexing (Huffman name), then by its dynamic index (62).
        let mut b = vec![0x40];
        b.extend(huffman_literal(b":status"));
        b.extend(huffman_literal(b"201"));
        b.push(0x0f);
        b.push(0x28); // server (54 = 15 + 39), without indexing: skipped
        b.extend(huffman_literal(b"test"));
        assert_eq!(status(&mut d, &b), Ok(Some(201)));
        assert_eq!(d.size, 7 + 3 + 32);
        assert_eq!(status(&mut d, &[0xbe]), Ok(Some(201)));
        // A :status that is not three digits.
        let mut b = vec![0x08];
        b.extend(plain_literal(b"2000"));
        assert_eq!(
            d.decode(&b),
            Ok(Fields {
                status: None,
                bad_status: true
            })
        );
        // A field that is not :status says nothing.
        assert_eq!(status(&mut d, &[0x8f]), Ok(None));
    }

    #[test]
    fn the_dynamic_table_follows_loona_hpacks_encoder() {
        // loona-hpack's encoder adds every new name to its table and refers to entries still in
        // it by index: 150 names of about 45 bytes each keep the 4096-byte table evicting, so a
        // decoder out of step would refer to the wrong entry or to none.
        let mut encoder = loona_hpack::Encoder::new();
        let mut d = Decoder::default();
        let mut oracle = loona_hpack::Decoder::new();
        for i in 0..600u32 {
            let status = format!("{}", 200 + i % 7);
            let names: Vec<String> = (0..4)
                .map(|k| format!("x-name-{}", (i * 4 + k) % 150))
                .collect();
            let mut headers: Vec<(&[u8], &[u8])> = vec![(b":status", status.as_bytes())];
            for n in &names {
                headers.push((n.as_bytes(), b"some value"));
            }
            let block = encoder.encode(headers);
            let fields = d.decode(&block).unwrap();
            assert_eq!(fields.status, Some(200 + (i % 7) as u16), "block {i}");
            let decoded = oracle.decode(&block).unwrap();
            assert_eq!(decoded[0].1, status.as_bytes());
            assert!(d.size <= TABLE_SIZE);
        }
        assert!(d.size > TABLE_SIZE - 100, "{}", d.size);
    }

    #[test]
    fn table_size_updates_evict_and_are_bounded() {
        let mut d = Decoder::default();
        let mut b = vec![0x40];
        b.extend(plain_literal(b"x-a"));
        b.extend(plain_literal(&[b'v'; 100]));
        d.decode(&b).unwrap();
        assert_eq!(d.size, 135);
        // Size update to 0 (empties the table), then back to 4096.
        d.decode(&[0x20, 0x3f, 0xe1, 0x1f, 0x88]).unwrap();
        assert_eq!((d.size, d.table.len(), d.max_size), (0, 0, 4096));
        assert_eq!(d.decode(&[0xbe]), Err(DecodeError)); // index 62: no such entry now
        assert_eq!(d.decode(&[0x3f, 0xe2, 0x1f]), Err(DecodeError)); // 4097 > our limit
    }

    #[test]
    fn malformed_blocks_are_errors() {
        let mut d = Decoder::default();
        for block in [
            &[0x80][..],                           // index 0
            &[0xff, 0x80, 0x80, 0x80, 0x80, 0x01], // integer too long
            &[0xff],                               // integer cut short
            &[0x08, 0x05, b'2'],                   // string cut short
            &[0x00, 0x81],                         // name literal cut short
            &[0x08],                               // value missing
            &[0x48, 0x83, 0xff, 0xff, 0xff],       // bad Huffman in an indexed value
        ] {
            assert_eq!(d.decode(block), Err(DecodeError), "{block:x?}");
        }
    }
}
