//! HTTP/1 message body framing (RFC 9112 section 6), for requests and responses alike: how a body
//! is delimited ([`BodyKind`]), the `Content-Length` value, and [`BodyDecoder`], which skips a body
//! of any framing without buffering it.

use super::ParseError;

/// The longest chunk-size line (with extensions) or trailer line accepted, in bytes, CRLF included.
const MAX_LINE: u16 = 4096;

/// The most hex digits in a chunk size (a `u64`).
const MAX_SIZE_DIGITS: u8 = 16;

/// How the body of a message is framed.
///
/// ```
/// use tcpserver::http::{parse_request, BodyKind, Limits, Parsed};
///
/// let head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
/// let Parsed::Complete(req) = parse_request(head, &Limits::default())? else { panic!() };
/// assert_eq!(req.body(), BodyKind::Chunked);
/// # Ok::<(), tcpserver::http::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    Empty,
    /// `Content-Length` bytes of body.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// The body ends when the connection closes: a response with neither `Content-Length` nor
    /// `chunked` as its final transfer coding (RFC 9112 6.3). Requests are never framed this
    /// way: [`parse_request`](super::parse_request) does not return it.
    UntilClose,
}

/// Parses a `Content-Length` field value: a decimal number, or a comma-separated list of
/// identical numbers, which a recipient may take as that one number (RFC 9110 8.6).
///
/// Several `Content-Length` fields in one head must also agree; that check is the caller's.
///
/// ```
/// use tcpserver::http::{parse_content_length, ParseError};
///
/// assert_eq!(parse_content_length(b"1024"), Ok(1024));
/// assert_eq!(parse_content_length(b" 7, 7 "), Ok(7));
/// assert_eq!(parse_content_length(b"7, 8"), Err(ParseError::ConflictingContentLength));
/// for bad in [&b""[..], b"+1", b"-1", b"0x10", b"1 2", b"7,", b"99999999999999999999"] {
///     assert_eq!(parse_content_length(bad), Err(ParseError::InvalidContentLength));
/// }
/// ```
pub fn parse_content_length(value: &[u8]) -> Result<u64, ParseError> {
    let mut length = None;
    for item in value.split(|&b| b == b',') {
        let n = parse_decimal(item.trim_ascii()).ok_or(ParseError::InvalidContentLength)?;
        if length.is_some_and(|l| l != n) {
            return Err(ParseError::ConflictingContentLength);
        }
        length = Some(n);
    }
    length.ok_or(ParseError::InvalidContentLength)
}

/// Parses a non-empty decimal number without sign, rejecting overflow.
fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Consumes and discards a message body from successive buffers.
///
/// Feed it the bytes that follow the message head with [`discard`](Self::discard) until
/// [`is_done`](Self::is_done). It never buffers, copies or allocates: body bytes are skipped by
/// count, and chunked framing (chunk sizes, extensions, trailers) is decoded one byte at a time,
/// so a chunk-size or trailer line may be split across reads anywhere. Every byte it is given
/// before the end of the body is consumed; nothing has to be passed again.
///
/// Chunked framing is checked strictly, because a lenient decoder is how request smuggling
/// happens: a chunk size needs at least one hex digit, lines end in CRLF (never a bare LF),
/// extensions and trailer values hold no control characters, and a trailer line is a
/// `name: value` field. Lines are limited to 4 KiB.
///
/// ```
/// use tcpserver::http::{BodyDecoder, BodyKind};
///
/// let mut body = BodyDecoder::new(BodyKind::Chunked);
/// let n = body.discard(b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n")?;
/// assert!(body.is_done());
/// assert_eq!(n, 13); // the next message starts here
///
/// let mut body = BodyDecoder::new(BodyKind::Length(10));
/// assert_eq!(body.discard(b"0123")?, 4);
/// assert!(!body.is_done());
/// assert_eq!(body.discard(b"456789GET")?, 6);
/// assert!(body.is_done());
///
/// // A chunk-size line split across two reads.
/// let mut body = BodyDecoder::new(BodyKind::Chunked);
/// assert_eq!(body.discard(b"1")?, 1);
/// assert_eq!(body.discard(b"0;ext=\"x\"\r\n0123456789ABCDEF\r\n0\r\nDigest: 1\r\n\r\n")?, 45);
/// assert!(body.is_done());
///
/// // A close-delimited response body ends with the stream.
/// let mut body = BodyDecoder::new(BodyKind::UntilClose);
/// assert_eq!(body.discard(b"everything")?, 10);
/// assert!(body.end_of_stream());
/// # Ok::<(), tcpserver::http::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDecoder {
    state: State,
    /// Bytes of the current chunk-size, chunk-end or trailer line read so far.
    line: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Bytes of a `Content-Length` body still to skip.
    Length(u64),
    /// A close-delimited body: everything until the end of the stream.
    UntilClose,
    /// In the chunk size: its value and hex digits so far.
    Size {
        value: u64,
        digits: u8,
    },
    /// After the chunk size, in whitespace before `;` or CR.
    SizeSpace {
        value: u64,
    },
    /// In chunk extensions (after `;`), until CR.
    Extension {
        value: u64,
    },
    /// Expecting the LF that ends the chunk-size line.
    SizeLf {
        value: u64,
    },
    /// Bytes of chunk data still to skip.
    Data(u64),
    /// Expecting the CR, then the LF, that end chunk data.
    DataCr,
    DataLf,
    /// At the start of a trailer line or of the final empty line.
    LineStart,
    /// In a trailer field name, until `:`.
    TrailerName,
    /// In a trailer field value, until CR.
    TrailerValue,
    /// Expecting the LF that ends a trailer line.
    TrailerLf,
    /// Expecting the LF of the final empty line.
    FinalLf,
    Done,
}

impl BodyDecoder {
    /// A decoder for a body framed as `kind`.
    ///
    /// ```
    /// use tcpserver::http::{BodyDecoder, BodyKind};
    /// assert!(BodyDecoder::new(BodyKind::Empty).is_done());
    /// assert!(BodyDecoder::new(BodyKind::Length(0)).is_done());
    /// assert!(!BodyDecoder::new(BodyKind::Chunked).is_done());
    /// ```
    pub fn new(kind: BodyKind) -> Self {
        let state = match kind {
            BodyKind::Empty | BodyKind::Length(0) => State::Done,
            BodyKind::Length(n) => State::Length(n),
            BodyKind::Chunked => State::Size {
                value: 0,
                digits: 0,
            },
            BodyKind::UntilClose => State::UntilClose,
        };
        BodyDecoder { state, line: 0 }
    }

    /// Whether the whole body has been consumed.
    ///
    /// ```
    /// use tcpserver::http::{BodyDecoder, BodyKind};
    /// let mut body = BodyDecoder::new(BodyKind::Length(2));
    /// body.discard(b"ab")?;
    /// assert!(body.is_done());
    /// # Ok::<(), tcpserver::http::ParseError>(())
    /// ```
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes body bytes from the start of `buf` and returns how many were consumed.
    ///
    /// Until the body ends, that is all of `buf`; at its end, the rest of `buf` belongs to the
    /// next message. Fails with [`ParseError::InvalidChunk`] on broken chunked framing; the
    /// stream cannot be trusted after that.
    ///
    /// ```
    /// use tcpserver::http::{BodyDecoder, BodyKind, ParseError};
    /// let mut body = BodyDecoder::new(BodyKind::Chunked);
    /// assert_eq!(body.discard(b"5\nhello"), Err(ParseError::InvalidChunk)); // bare LF
    /// ```
    pub fn discard(&mut self, buf: &[u8]) -> Result<usize, ParseError> {
        let mut pos = 0;
        while pos < buf.len() {
            match self.state {
                State::Done => break,
                State::UntilClose => return Ok(buf.len()),
                State::Length(left) | State::Data(left) => {
                    let take = left.min((buf.len() - pos) as u64);
                    // `take` is at most `buf.len() - pos`, so it fits a usize.
                    pos += take as usize;
                    let left = left - take;
                    self.state = match (self.state, left) {
                        (State::Length(_), 0) => State::Done,
                        (State::Length(_), n) => State::Length(n),
                        (_, 0) => State::DataCr,
                        (_, n) => State::Data(n),
                    };
                }
                _ => {
                    self.framing_byte(buf[pos])?;
                    pos += 1;
                }
            }
        }
        Ok(pos)
    }

    /// Tells the decoder that the stream ended and returns whether the body is complete: a
    /// close-delimited body ends here; any other unfinished body was cut short.
    ///
    /// ```
    /// use tcpserver::http::{BodyDecoder, BodyKind};
    /// let mut body = BodyDecoder::new(BodyKind::Length(10));
    /// body.discard(b"abc")?;
    /// assert!(!body.end_of_stream());
    /// let mut body = BodyDecoder::new(BodyKind::UntilClose);
    /// body.discard(b"abc")?;
    /// assert!(body.end_of_stream());
    /// assert!(body.is_done());
    /// # Ok::<(), tcpserver::http::ParseError>(())
    /// ```
    pub fn end_of_stream(&mut self) -> bool {
        if self.state == State::UntilClose {
            self.state = State::Done;
        }
        self.is_done()
    }

    /// Advances over one byte of chunked framing: a chunk-size line, the CRLF after chunk data,
    /// a trailer line or the final empty line.
    fn framing_byte(&mut self, b: u8) -> Result<(), ParseError> {
        use State::*;
        self.line += 1;
        if self.line > MAX_LINE {
            return Err(ParseError::InvalidChunk);
        }
        let next = match (self.state, b) {
            (Size { value, digits }, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
                if digits == MAX_SIZE_DIGITS {
                    return Err(ParseError::InvalidChunk);
                }
                let digit = match b {
                    b'0'..=b'9' => b - b'0',
                    _ => (b | 0x20) - b'a' + 10,
                };
                Size {
                    value: (value << 4) | u64::from(digit),
                    digits: digits + 1,
                }
            }
            // An empty chunk size (httparse reads it as 0): RFC 9112 7.1 needs a digit.
            (Size { digits: 0, .. }, _) => return Err(ParseError::InvalidChunk),
            (Size { value, .. } | SizeSpace { value }, b' ' | b'\t') => SizeSpace { value },
            (Size { value, .. } | SizeSpace { value }, b';') => Extension { value },
            (Size { value, .. } | SizeSpace { value } | Extension { value }, b'\r') => {
                SizeLf { value }
            }
            (Extension { value }, _) if is_field_byte(b) => Extension { value },
            (SizeLf { value: 0 }, b'\n') => self.end_line(LineStart),
            (SizeLf { value }, b'\n') => self.end_line(Data(value)),
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => self.end_line(Size {
                value: 0,
                digits: 0,
            }),
            (LineStart, b'\r') => FinalLf,
            (LineStart | TrailerName, _) if is_tchar(b) => TrailerName,
            (TrailerName, b':') => TrailerValue,
            (TrailerValue, b'\r') => TrailerLf,
            (TrailerValue, _) if is_field_byte(b) => TrailerValue,
            (TrailerLf, b'\n') => self.end_line(LineStart),
            (FinalLf, b'\n') => self.end_line(Done),
            _ => return Err(ParseError::InvalidChunk),
        };
        self.state = next;
        Ok(())
    }

    fn end_line(&mut self, next: State) -> State {
        self.line = 0;
        next
    }
}

/// A byte allowed in a field value or a chunk extension: no control character but tab
/// (RFC 9110 5.5; extensions are tokens and quoted strings, which hold none either).
fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// A byte of a token, such as a field name (RFC 9110 5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes, as a connection would, and returns the consumed
    /// length once done (`None` if the input ends first).
    fn feed(kind: BodyKind, input: &[u8], step: usize) -> Result<Option<usize>, ParseError> {
        let mut dec = BodyDecoder::new(kind);
        let mut consumed = 0;
        for piece in input.chunks(step) {
            let n = dec.discard(piece)?;
            consumed += n;
            if dec.is_done() {
                return Ok(Some(consumed));
            }
            assert_eq!(n, piece.len(), "an unfinished body consumes every byte");
        }
        Ok(dec.is_done().then_some(consumed))
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
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE \t; a=\"q\" ;b\r\n in\r\n\r\nchunks.\r\n\
            0\r\nX-Trailer: 1\r\nY:\r\n\r\nNEXT";
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
        assert_eq!(
            feed(BodyKind::Chunked, b"fFfFfFfFfFfFfFfF\r\n", 5),
            Ok(None),
            "16 hex digits fit"
        );
    }

    #[test]
    fn broken_chunks() {
        let broken: [&[u8]; 22] = [
            b"x\r\n",
            b"3\r\nabcX\r\n",
            b"3\nabc\r\n",
            b"3\r\rabc\r\n",
            b"3\r\nabc\n0\r\n\r\n",
            b"3;a\nb\r\nabc\r\n0\r\n\r\n",
            b"3;a\x00\r\nabc\r\n0\r\n\r\n",
            b"3 3\r\nabc\r\n0\r\n\r\n",
            b"0\r\nTrailer\n\r\n",
            b"0\r\nX: 1\n\r\n",
            b"0\r\n\n",
            b"0\r\n\rX",
            b"fffffffffffffffff\r\n",
            b"\r\nhello\r\n0\r\n\r\n",
            b";\r\nhello\r\n0\r\n\r\n",
            b" 5\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\nBad Trailer\r\n\r\n",
            b"0\r\nNoColon\r\n\r\n",
            b"0\r\n: empty-name\r\n\r\n",
            b"0\r\n folded: x\r\n\r\n",
            b"0\r\nX: a\x00b\r\n\r\n",
            b"0\r\nX: a\x7fb\r\n\r\n",
        ];
        for bad in broken {
            for step in [1, 3, 100] {
                assert_eq!(
                    feed(BodyKind::Chunked, bad, step),
                    Err(ParseError::InvalidChunk),
                    "{:?} in steps of {step}",
                    String::from_utf8_lossy(bad)
                );
            }
        }
    }

    #[test]
    fn long_lines_fail_however_they_arrive() {
        let line = usize::from(MAX_LINE);
        let mut ext = b"0;".to_vec();
        ext.extend(std::iter::repeat_n(b'a', line + 10));
        ext.extend_from_slice(b"\r\n\r\n");
        let mut trailer = b"0\r\nX: ".to_vec();
        trailer.extend(std::iter::repeat_n(b'b', line + 10));
        trailer.extend_from_slice(b"\r\n\r\n");
        for input in [&ext, &trailer] {
            for step in [1, 7, 100, input.len()] {
                assert_eq!(
                    feed(BodyKind::Chunked, input, step),
                    Err(ParseError::InvalidChunk)
                );
            }
        }
        // A line of exactly the limit (CRLF included) is fine, one byte more is not.
        for (len, ok) in [(line, true), (line + 1, false)] {
            let mut input = b"0\r\nX:".to_vec();
            input.extend(std::iter::repeat_n(b'v', len - 4));
            input.extend_from_slice(b"\r\n\r\n");
            let expected = if ok {
                Ok(Some(input.len()))
            } else {
                Err(ParseError::InvalidChunk)
            };
            assert_eq!(
                feed(BodyKind::Chunked, &input, 9),
                expected,
                "line of {len}"
            );
        }
    }

    #[test]
    fn huge_sizes_are_streamed() {
        let mut dec = BodyDecoder::new(BodyKind::Length(u64::MAX));
        assert_eq!(dec.discard(&[0; 100]), Ok(100));
        assert!(!dec.is_done());
        let mut dec = BodyDecoder::new(BodyKind::Chunked);
        assert_eq!(dec.discard(b"ffffffffffffffff\r\nabc"), Ok(21));
        assert!(!dec.is_done());
    }

    #[test]
    fn close_delimited_bodies_end_with_the_stream() {
        assert_eq!(
            feed(BodyKind::UntilClose, b"anything\r\n0\r\n", 3),
            Ok(None)
        );
        let mut dec = BodyDecoder::new(BodyKind::UntilClose);
        assert_eq!(dec.discard(b"abc"), Ok(3));
        assert!(!dec.is_done());
        assert!(dec.end_of_stream());
        assert_eq!(dec.discard(b"more"), Ok(0), "nothing after the end");
        let mut dec = BodyDecoder::new(BodyKind::Chunked);
        assert_eq!(dec.discard(b"0\r\n"), Ok(3));
        assert!(!dec.end_of_stream(), "a cut-short chunked body");
    }

    #[test]
    fn content_length_values() {
        assert_eq!(parse_content_length(b"0"), Ok(0));
        assert_eq!(parse_content_length(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_content_length(b"18446744073709551616"),
            Err(ParseError::InvalidContentLength)
        );
        assert_eq!(parse_content_length(b"\t5\t,5"), Ok(5));
        assert_eq!(
            parse_content_length(b","),
            Err(ParseError::InvalidContentLength)
        );
    }
}
