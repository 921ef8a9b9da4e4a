//! HTTP/2 framing (RFC 9113 §4 and §6), sans I/O: frame headers written into a byte buffer, and
//! an incremental reader that takes whatever the socket delivered and hands out complete frames,
//! with padding and priority fields stripped, header blocks joined across CONTINUATION frames and
//! every length checked. The connection task decides what the frames mean.

/// Length of a frame header.
pub(super) const HEADER_LEN: usize = 9;
/// The largest frame payload a peer may send before SETTINGS_MAX_FRAME_SIZE raises it; we never
/// raise it, so it is the largest we accept, and a frame size every peer accepts.
pub(super) const DEFAULT_MAX_FRAME: usize = 16_384;
/// The largest header block (HEADERS plus CONTINUATION) we assemble.
const MAX_HEADER_BLOCK: usize = 1 << 20;
/// The largest stream id.
pub(super) const MAX_STREAM_ID: u32 = (1 << 31) - 1;
/// The largest flow-control window.
pub(super) const MAX_WINDOW: i64 = (1 << 31) - 1;
/// The client connection preface.
pub(super) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types.
pub(super) mod kind {
    pub const DATA: u8 = 0x0;
    pub const HEADERS: u8 = 0x1;
    pub const PRIORITY: u8 = 0x2;
    pub const RST_STREAM: u8 = 0x3;
    pub const SETTINGS: u8 = 0x4;
    pub const PUSH_PROMISE: u8 = 0x5;
    pub const PING: u8 = 0x6;
    pub const GOAWAY: u8 = 0x7;
    pub const WINDOW_UPDATE: u8 = 0x8;
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags.
pub(super) mod flag {
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// SETTINGS parameters.
pub(super) mod setting {
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    pub const ENABLE_PUSH: u16 = 0x2;
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub const MAX_FRAME_SIZE: u16 = 0x5;
}

/// Error codes (RST_STREAM, GOAWAY).
pub(super) mod code {
    pub const NO_ERROR: u32 = 0x0;
    pub const PROTOCOL_ERROR: u32 = 0x1;
    pub const FLOW_CONTROL_ERROR: u32 = 0x3;
    pub const FRAME_SIZE_ERROR: u32 = 0x6;
    pub const REFUSED_STREAM: u32 = 0x7;
    pub const CANCEL: u32 = 0x8;
    pub const COMPRESSION_ERROR: u32 = 0x9;
}

/// A connection error: the peer broke the protocol. `code` goes into our GOAWAY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ConnectionError {
    pub code: u32,
}

const PROTOCOL: ConnectionError = ConnectionError {
    code: code::PROTOCOL_ERROR,
};
const FRAME_SIZE: ConnectionError = ConnectionError {
    code: code::FRAME_SIZE_ERROR,
};

/// Appends a frame header.
pub(super) fn write_header(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    let len = len as u32;
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
}

/// Appends a SETTINGS frame with `(parameter, value)` pairs.
pub(super) fn write_settings(out: &mut Vec<u8>, settings: &[(u16, u32)]) {
    write_header(out, settings.len() * 6, kind::SETTINGS, 0, 0);
    for (id, value) in settings {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

/// Appends a WINDOW_UPDATE frame.
pub(super) fn write_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    write_header(out, 4, kind::WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&increment.to_be_bytes());
}

/// Appends a RST_STREAM frame.
pub(super) fn write_rst_stream(out: &mut Vec<u8>, stream: u32, code: u32) {
    write_header(out, 4, kind::RST_STREAM, 0, stream);
    out.extend_from_slice(&code.to_be_bytes());
}

/// Appends a GOAWAY frame (a client never accepts streams, so its last stream id is 0).
pub(super) fn write_goaway(out: &mut Vec<u8>, code: u32) {
    write_header(out, 8, kind::GOAWAY, 0, 0);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
}

/// The parameters of a SETTINGS frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Settings<'a>(&'a [u8]);

impl Settings<'_> {
    /// `(parameter, value)` pairs in the order sent.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u16, u32)> + '_ {
        self.0.chunks_exact(6).map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
            )
        })
    }
}

/// A frame as the connection sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Frame<'a> {
    /// DATA: `len` bytes of data (not kept); `flow_len` is what counts against flow control
    /// (the whole payload, padding included).
    Data {
        stream: u32,
        end_stream: bool,
        len: usize,
        flow_len: u32,
    },
    /// A complete header block (HEADERS and its CONTINUATION frames).
    Headers {
        stream: u32,
        end_stream: bool,
        block: &'a [u8],
    },
    RstStream {
        stream: u32,
        code: u32,
    },
    Settings(Settings<'a>),
    SettingsAck,
    Ping([u8; 8]),
    PingAck,
    GoAway {
        last_stream: u32,
        code: u32,
    },
    WindowUpdate {
        stream: u32,
        increment: u32,
    },
    PushPromise,
    /// PRIORITY and frame types we do not know: ignored.
    Ignored,
}

/// A header block whose CONTINUATION frames are still to come.
#[derive(Debug, Clone, Copy)]
struct Pending {
    stream: u32,
    end_stream: bool,
}

/// Reads frames out of the bytes received so far.
#[derive(Debug)]
pub(super) struct FrameReader {
    buf: Vec<u8>,
    /// Unparsed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// A header block being assembled across CONTINUATION frames, in `block`.
    pending: Option<Pending>,
    block: Vec<u8>,
}

impl FrameReader {
    /// A reader whose buffer takes `capacity` bytes a read (at least one frame and its header).
    pub(super) fn new(capacity: usize) -> Self {
        FrameReader {
            buf: vec![0; capacity.max(HEADER_LEN + DEFAULT_MAX_FRAME)],
            start: 0,
            end: 0,
            pending: None,
            block: Vec::new(),
        }
    }

    /// Forgets everything (for a new connection).
    pub(super) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
        self.pending = None;
        self.block.clear();
    }

    /// Room for the next read; always enough for the rest of a frame of the largest size.
    pub(super) fn space(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.end < HEADER_LEN + DEFAULT_MAX_FRAME {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    /// Takes `n` bytes just read into [`space`](Self::space).
    pub(super) fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// The next complete frame, `None` if more bytes are needed.
    pub(super) fn next_frame(&mut self) -> Result<Option<Frame<'_>>, ConnectionError> {
        loop {
            let avail = &self.buf[self.start..self.end];
            if avail.len() < HEADER_LEN {
                return Ok(None);
            }
            let len = (usize::from(avail[0]) << 16)
                | (usize::from(avail[1]) << 8)
                | usize::from(avail[2]);
            let (kind, flags) = (avail[3], avail[4]);
            let stream =
                u32::from_be_bytes([avail[5], avail[6], avail[7], avail[8]]) & MAX_STREAM_ID;
            if len > DEFAULT_MAX_FRAME {
                return Err(FRAME_SIZE);
            }
            if avail.len() < HEADER_LEN + len {
                return Ok(None);
            }
            let payload_start = self.start + HEADER_LEN;
            self.start = payload_start + len;
            let payload = &self.buf[payload_start..payload_start + len];
            if let Some(pending) = self.pending {
                // Nothing may come between HEADERS and its CONTINUATION frames.
                if kind != kind::CONTINUATION || stream != pending.stream {
                    return Err(PROTOCOL);
                }
                if self.block.len() + payload.len() > MAX_HEADER_BLOCK {
                    return Err(PROTOCOL);
                }
                self.block.extend_from_slice(payload);
                if flags & flag::END_HEADERS == 0 {
                    continue;
                }
                self.pending = None;
                return Ok(Some(Frame::Headers {
                    stream,
                    end_stream: pending.end_stream,
                    block: &self.block,
                }));
            }
            let frame = match kind {
                kind::DATA => {
                    if stream == 0 {
                        return Err(PROTOCOL);
                    }
                    let data = unpad(payload, flags)?;
                    Frame::Data {
                        stream,
                        end_stream: flags & flag::END_STREAM != 0,
                        len: data.len(),
                        flow_len: len as u32,
                    }
                }
                kind::HEADERS => {
                    if stream == 0 {
                        return Err(PROTOCOL);
                    }
                    let mut fragment = unpad(payload, flags)?;
                    if flags & flag::PRIORITY != 0 {
                        // Stream dependency (4 bytes) and weight (1 byte).
                        fragment = fragment.get(5..).ok_or(FRAME_SIZE)?;
                    }
                    let end_stream = flags & flag::END_STREAM != 0;
                    if flags & flag::END_HEADERS == 0 {
                        self.pending = Some(Pending { stream, end_stream });
                        self.block.clear();
                        self.block.extend_from_slice(fragment);
                        continue;
                    }
                    Frame::Headers {
                        stream,
                        end_stream,
                        block: fragment,
                    }
                }
                kind::PRIORITY => {
                    if stream == 0 {
                        return Err(PROTOCOL);
                    }
                    if len != 5 {
                        return Err(FRAME_SIZE);
                    }
                    Frame::Ignored
                }
                kind::RST_STREAM => {
                    if stream == 0 {
                        return Err(PROTOCOL);
                    }
                    Frame::RstStream {
                        stream,
                        code: be32(payload).ok_or(FRAME_SIZE)?,
                    }
                }
                kind::SETTINGS => {
                    if stream != 0 {
                        return Err(PROTOCOL);
                    }
                    if flags & flag::ACK != 0 {
                        if len != 0 {
                            return Err(FRAME_SIZE);
                        }
                        Frame::SettingsAck
                    } else if len % 6 != 0 {
                        return Err(FRAME_SIZE);
                    } else {
                        Frame::Settings(Settings(payload))
                    }
                }
                kind::PUSH_PROMISE => Frame::PushPromise,
                kind::PING => {
                    if stream != 0 {
                        return Err(PROTOCOL);
                    }
                    let data: [u8; 8] = payload.try_into().map_err(|_| FRAME_SIZE)?;
                    if flags & flag::ACK != 0 {
                        Frame::PingAck
                    } else {
                        Frame::Ping(data)
                    }
                }
                kind::GOAWAY => {
                    if stream != 0 {
                        return Err(PROTOCOL);
                    }
                    if len < 8 {
                        return Err(FRAME_SIZE);
                    }
                    Frame::GoAway {
                        last_stream: be32(&payload[..4]).ok_or(FRAME_SIZE)? & MAX_STREAM_ID,
                        code: be32(&payload[4..8]).ok_or(FRAME_SIZE)?,
                    }
                }
                kind::WINDOW_UPDATE => {
                    let increment = be32(payload).ok_or(FRAME_SIZE)? & MAX_STREAM_ID;
                    if increment == 0 {
                        return Err(PROTOCOL);
                    }
                    Frame::WindowUpdate { stream, increment }
                }
                // A CONTINUATION that follows no HEADERS.
                kind::CONTINUATION => return Err(PROTOCOL),
                _ => Frame::Ignored,
            };
            return Ok(Some(frame));
        }
    }
}

/// The payload of a DATA or HEADERS frame without its padding.
fn unpad(payload: &[u8], flags: u8) -> Result<&[u8], ConnectionError> {
    if flags & flag::PADDED == 0 {
        return Ok(payload);
    }
    let (&pad, rest) = payload.split_first().ok_or(FRAME_SIZE)?;
    let pad = usize::from(pad);
    if pad > rest.len() {
        return Err(PROTOCOL);
    }
    Ok(&rest[..rest.len() - pad])
}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, payload.len(), kind, flags, stream);
        out.extend_from_slice(payload);
        out
    }

    /// What the reader makes of `bytes` fed in pieces of `step` bytes, as owned values.
    fn read_all(bytes: &[u8], step: usize) -> Result<Vec<String>, ConnectionError> {
        let mut reader = FrameReader::new(64 * 1024);
        let mut seen = Vec::new();
        for piece in bytes.chunks(step) {
            let space = reader.space();
            space[..piece.len()].copy_from_slice(piece);
            reader.filled(piece.len());
            while let Some(f) = reader.next_frame()? {
                seen.push(format!("{f:?}"));
            }
        }
        Ok(seen)
    }

    fn sample() -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend(frame(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]));
        bytes.extend(frame(kind::SETTINGS, flag::ACK, 0, &[]));
        // HEADERS, padded and with priority, split over two CONTINUATION frames.
        let mut headers = vec![2]; // pad length
        headers.extend_from_slice(&[0, 0, 0, 0, 16]); // dependency, weight
        headers.extend_from_slice(&[0x88, 0x40]);
        headers.extend_from_slice(&[0, 0]); // padding
        bytes.extend(frame(
            kind::HEADERS,
            flag::PADDED | flag::PRIORITY,
            1,
            &headers,
        ));
        bytes.extend(frame(kind::CONTINUATION, 0, 1, &[0x01]));
        bytes.extend(frame(kind::CONTINUATION, flag::END_HEADERS, 1, &[0x61]));
        // An unknown frame type and PRIORITY: ignored.
        bytes.extend(frame(0xfa, 0xff, 7, b"whatever"));
        bytes.extend(frame(kind::PRIORITY, 0, 3, &[0, 0, 0, 1, 5]));
        // DATA with 3 bytes of padding.
        bytes.extend(frame(
            kind::DATA,
            flag::PADDED | flag::END_STREAM,
            1,
            &[3, b'o', b'k', 0, 0, 0],
        ));
        bytes.extend(frame(kind::PING, 0, 0, b"12345678"));
        bytes.extend(frame(kind::WINDOW_UPDATE, 0, 0, &[0x80, 0, 1, 0]));
        bytes.extend(frame(kind::RST_STREAM, 0, 3, &[0, 0, 0, 8]));
        bytes.extend(frame(kind::GOAWAY, 0, 0, &[0, 0, 0, 5, 0, 0, 0, 0, b'x']));
        bytes
    }

    #[test]
    fn frames_split_at_every_byte_boundary_read_the_same() {
        let bytes = sample();
        let whole = read_all(&bytes, bytes.len()).unwrap();
        let expected = [
            "Settings(Settings([0, 3, 0, 0, 0, 100]))",
            "SettingsAck",
            "Headers { stream: 1, end_stream: false, block: [136, 64, 1, 97] }",
            "Ignored",
            "Ignored",
            "Data { stream: 1, end_stream: true, len: 2, flow_len: 6 }",
            "Ping([49, 50, 51, 52, 53, 54, 55, 56])",
            "WindowUpdate { stream: 0, increment: 256 }",
            "RstStream { stream: 3, code: 8 }",
            "GoAway { last_stream: 5, code: 0 }",
        ];
        assert_eq!(whole, expected);
        for step in 1..bytes.len() {
            assert_eq!(read_all(&bytes, step).unwrap(), expected, "step {step}");
        }
        // Every split point of the whole stream into two reads.
        for cut in 0..bytes.len() {
            let mut reader = FrameReader::new(64 * 1024);
            let mut seen = Vec::new();
            for piece in [&bytes[..cut], &bytes[cut..]] {
                reader.space()[..piece.len()].copy_from_slice(piece);
                reader.filled(piece.len());
                while let Some(f) = reader.next_frame().unwrap() {
                    seen.push(format!("{f:?}"));
                }
            }
            assert_eq!(seen, expected, "cut {cut}");
        }
    }

    #[test]
    fn settings_parameters_are_listed() {
        let payload = [0, 3, 0, 0, 0, 100, 0, 4, 0, 1, 0, 0];
        assert_eq!(
            Settings(&payload).iter().collect::<Vec<_>>(),
            [(3, 100), (4, 65536)]
        );
    }

    #[test]
    fn the_buffer_is_reused_for_a_long_stream_of_frames() {
        let one = frame(kind::DATA, 0, 1, &[7; 16_384]);
        let bytes = one.repeat(20);
        for step in [1000, 4096, 16_393, 50_000] {
            let seen = read_all(&bytes, step).unwrap();
            assert_eq!(seen.len(), 20, "step {step}");
        }
    }

    fn rejected(bytes: &[u8]) -> ConnectionError {
        read_all(bytes, bytes.len()).unwrap_err()
    }

    #[test]
    fn bad_frames_are_connection_errors() {
        // Larger than our (default) SETTINGS_MAX_FRAME_SIZE: rejected from the header alone.
        let mut big = Vec::new();
        write_header(&mut big, DEFAULT_MAX_FRAME + 1, kind::DATA, 0, 1);
        assert_eq!(rejected(&big), FRAME_SIZE);
        let cases: &[(Vec<u8>, ConnectionError)] = &[
            (frame(kind::DATA, 0, 0, b"x"), PROTOCOL),
            (frame(kind::DATA, flag::PADDED, 1, &[]), FRAME_SIZE),
            (frame(kind::DATA, flag::PADDED, 1, &[2, 0]), PROTOCOL),
            (
                frame(kind::HEADERS, flag::END_HEADERS, 0, &[0x88]),
                PROTOCOL,
            ),
            (
                frame(
                    kind::HEADERS,
                    flag::PRIORITY | flag::END_HEADERS,
                    1,
                    &[0, 0, 0],
                ),
                FRAME_SIZE,
            ),
            (frame(kind::PRIORITY, 0, 1, &[0, 0, 0]), FRAME_SIZE),
            (frame(kind::RST_STREAM, 0, 1, &[0, 0, 8]), FRAME_SIZE),
            (frame(kind::RST_STREAM, 0, 0, &[0, 0, 0, 8]), PROTOCOL),
            (frame(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0]), FRAME_SIZE),
            (frame(kind::SETTINGS, flag::ACK, 0, &[0]), FRAME_SIZE),
            (frame(kind::SETTINGS, 0, 1, &[]), PROTOCOL),
            (frame(kind::PING, 0, 0, b"1234567"), FRAME_SIZE),
            (frame(kind::PING, 0, 1, b"12345678"), PROTOCOL),
            (frame(kind::GOAWAY, 0, 0, &[0, 0, 0, 1]), FRAME_SIZE),
            (frame(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 0, 0]), PROTOCOL),
            (frame(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 1]), FRAME_SIZE),
            (
                frame(kind::CONTINUATION, flag::END_HEADERS, 1, &[0x88]),
                PROTOCOL,
            ),
        ];
        for (bytes, error) in cases {
            assert_eq!(rejected(bytes), *error, "{bytes:?}");
        }
        // A header block interrupted by another frame, or continued on another stream.
        let mut open = frame(kind::HEADERS, 0, 1, &[0x88]);
        let mut interrupted = open.clone();
        interrupted.extend(frame(kind::PING, 0, 0, b"12345678"));
        assert_eq!(rejected(&interrupted), PROTOCOL);
        open.extend(frame(kind::CONTINUATION, flag::END_HEADERS, 3, &[0x88]));
        assert_eq!(rejected(&open), PROTOCOL);
    }

    #[test]
    fn frame_headers_are_written_big_endian() {
        let mut out = Vec::new();
        write_header(
            &mut out,
            0x01_02_03,
            kind::HEADERS,
            flag::END_HEADERS,
            0x0a0b_0c0d,
        );
        assert_eq!(out, [1, 2, 3, 1, 4, 0x0a, 0x0b, 0x0c, 0x0d]);
        let mut out = Vec::new();
        write_goaway(&mut out, code::PROTOCOL_ERROR);
        assert_eq!(out, [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    }
}
