//! Skipping request bodies (Content-Length or chunked) without buffering them.

use super::{BodyKind, ParseError};

/// The longest chunk-size line (with extensions) or trailer line accepted, in bytes.
const MAX_LINE: usize = 4096;

/// Consumes and discards a request body from successive buffers.
///
/// Feed it the bytes that follow the request head with [`discard`](Self::discard) until
/// [`is_done`](Self::is_done); it never buffers or allocates. Chunked bodies are decoded
/// (chunk sizes, extensions, trailers) so the next pipelined request is found exactly.
///
/// ```
/// use tcpserver::http::{BodyDecoder, BodyKind};
///
/// let mut body = BodyDecoder::new(BodyKind::Chunked);
/// let n = body.discard(b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n")?;
/// assert!(body.is_done());
/// assert_eq!(n, 13); // the next request starts here
///
/// let mut body = BodyDecoder::new(BodyKind::Length(10));
/// assert_eq!(body.discard(b"0123")?, 4);
/// assert!(!body.is_done());
/// assert_eq!(body.discard(b"456789GET")?, 6);
/// assert!(body.is_done());
/// # Ok::<(), tcpserver::http::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDecoder {
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Bytes of a `Content-Length` body still to skip.
    Length(u64),
    /// Expecting a chunk-size line.
    ChunkSize,
    /// Bytes of chunk data still to skip.
    ChunkData(u64),
    /// Expecting the CRLF that ends chunk data.
    ChunkEnd,
    /// Expecting trailer lines or the final empty line.
    Trailers,
    Done,
}

impl BodyDecoder {
    /// A decoder for a body framed as `kind`.
    pub fn new(kind: BodyKind) -> Self {
        let state = match kind {
            BodyKind::Empty | BodyKind::Length(0) => State::Done,
            BodyKind::Length(n) => State::Length(n),
            BodyKind::Chunked => State::ChunkSize,
        };
        BodyDecoder { state }
    }

    /// Whether the whole body has been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes body bytes from the start of `buf` and returns how many were consumed.
    ///
    /// Stops at the end of the body (the rest of `buf` belongs to the next request) or when it
    /// needs more bytes than `buf` holds: then call it again with the unconsumed bytes followed
    /// by new ones. Fails with [`ParseError::InvalidChunk`] on broken chunked framing.
    pub fn discard(&mut self, buf: &[u8]) -> Result<usize, ParseError> {
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            match self.state {
                State::Done => return Ok(pos),
                State::Length(left) | State::ChunkData(left) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                    pos += take;
                    let left = left - take as u64;
                    self.state = match (self.state, left) {
                        (State::Length(_), 0) => State::Done,
                        (State::Length(_), n) => State::Length(n),
                        (_, 0) => State::ChunkEnd,
                        (_, n) => State::ChunkData(n),
                    };
                    if left > 0 {
                        return Ok(pos);
                    }
                }
                // httparse reads an empty size as 0: require a hex digit (RFC 9112 7.1).
                State::ChunkSize if rest.first().is_some_and(|b| !b.is_ascii_hexdigit()) => {
                    return Err(ParseError::InvalidChunk);
                }
                State::ChunkSize => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        // The same limit as for a partial line, so that the outcome does not
                        // depend on how the bytes were segmented.
                        if used > MAX_LINE {
                            return Err(ParseError::InvalidChunk);
                        }
                        pos += used;
                        self.state = if size == 0 {
                            State::Trailers
                        } else {
                            State::ChunkData(size)
                        };
                    }
                    Ok(httparse::Status::Partial) => return need_more(rest, pos),
                    Err(_) => return Err(ParseError::InvalidChunk),
                },
                State::ChunkEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        pos += 2;
                        self.state = State::ChunkSize;
                    }
                    [] | [b'\r'] => return Ok(pos),
                    _ => return Err(ParseError::InvalidChunk),
                },
                State::Trailers => match memchr::memchr(b'\n', rest) {
                    Some(i) => {
                        if i == 0 || rest[i - 1] != b'\r' || i + 1 > MAX_LINE {
                            return Err(ParseError::InvalidChunk);
                        }
                        if i == 1 {
                            self.state = State::Done;
                        } else if !is_field_line(&rest[..i - 1]) {
                            return Err(ParseError::InvalidChunk);
                        }
                        pos += i + 1;
                    }
                    None => return need_more(rest, pos),
                },
            }
        }
    }
}

/// Whether a trailer line is a valid `name: value` field line (RFC 9110 5.1, 5.5): a token name
/// directly followed by `:`, and a value without control characters other than tab.
fn is_field_line(line: &[u8]) -> bool {
    let Some(colon) = memchr::memchr(b':', line) else {
        return false;
    };
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    !name.is_empty()
        && name.iter().all(|&b| is_tchar(b))
        && value
            .iter()
            .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An incomplete line: wait for more bytes unless it is already too long.
fn need_more(rest: &[u8], pos: usize) -> Result<usize, ParseError> {
    if rest.len() > MAX_LINE {
        Err(ParseError::InvalidChunk)
    } else {
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes, as a connection would, and returns the consumed
    /// length once done.
    fn feed(kind: BodyKind, input: &[u8], step: usize) -> Result<Option<usize>, ParseError> {
        let mut dec = BodyDecoder::new(kind);
        let mut consumed = 0;
        let mut avail = 0;
        while !dec.is_done() {
            if avail == input.len() && consumed < avail {
                // No progress possible with all input available.
                let n = dec.discard(&input[consumed..avail])?;
                if n == 0 {
                    return Ok(None);
                }
                consumed += n;
                continue;
            }
            if avail == input.len() {
                return Ok(None);
            }
            avail = (avail + step).min(input.len());
            consumed += dec.discard(&input[consumed..avail])?;
        }
        Ok(Some(consumed))
    }

    #[test]
    fn length_bodies() {
        for step in [1, 2, 7, 100] {
            assert_eq!(feed(BodyKind::Length(5), b"12345NEXT", step), Ok(Some(5)));
        }
        assert!(BodyDecoder::new(BodyKind::Empty).is_done());
        assert!(BodyDecoder::new(BodyKind::Length(0)).is_done());
        assert_eq!(feed(BodyKind::Length(5), b"123", 10), Ok(None));
    }

    #[test]
    fn chunked_bodies() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        for step in 1..=body.len() {
            assert_eq!(
                feed(BodyKind::Chunked, body, step),
                Ok(Some(body.len() - 4)),
                "step {step}"
            );
        }
        assert_eq!(feed(BodyKind::Chunked, b"0\r\n\r\n", 1), Ok(Some(5)));
        assert_eq!(
            feed(BodyKind::Chunked, b"a\r\n0123456789\r\n0\r\n\r\n", 3),
            Ok(Some(20))
        );
    }

    #[test]
    fn broken_chunks() {
        for bad in [
            &b"x\r\n"[..],
            b"3\r\nabcX\r\n",
            b"3\nabc\r\n",
            b"0\r\nTrailer\n\r\n",
            b"fffffffffffffffff\r\n",
            b"\r\nhello\r\n0\r\n\r\n",
            b" 5\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\nBad Trailer\r\n\r\n",
            b"0\r\n: empty-name\r\n\r\n",
            b"0\r\n folded: x\r\n\r\n",
            b"0\r\nX: a\x00b\r\n\r\n",
        ] {
            assert_eq!(
                feed(BodyKind::Chunked, bad, 100),
                Err(ParseError::InvalidChunk),
                "{bad:?}"
            );
        }
        let long = vec![b'1'; 1];
        let mut ext = long.clone();
        ext.extend_from_slice(b";");
        ext.extend(std::iter::repeat_n(b'e', MAX_LINE + 10));
        assert_eq!(
            BodyDecoder::new(BodyKind::Chunked).discard(&ext),
            Err(ParseError::InvalidChunk)
        );
    }

    #[test]
    fn long_lines_fail_however_they_arrive() {
        let mut ext = b"0;".to_vec();
        ext.extend(std::iter::repeat_n(b'a', MAX_LINE + 10));
        ext.extend_from_slice(b"\r\n\r\n");
        let mut trailer = b"0\r\nX: ".to_vec();
        trailer.extend(std::iter::repeat_n(b'b', MAX_LINE + 10));
        trailer.extend_from_slice(b"\r\n\r\n");
        for input in [&ext, &trailer] {
            for step in [1, 7, 100, input.len()] {
                assert_eq!(
                    feed(BodyKind::Chunked, input, step),
                    Err(ParseError::InvalidChunk)
                );
            }
        }
    }

    #[test]
    fn huge_length_is_streamed() {
        let mut dec = BodyDecoder::new(BodyKind::Length(u64::MAX));
        assert_eq!(dec.discard(&[0; 100]), Ok(100));
        assert!(!dec.is_done());
    }
}
