//! Properties of the sans-I/O HTTP layer (`tcpserver::http`), shared by the fuzz target
//! (`server/fuzz`, which `include!`s this file by path) and the regression test
//! `reliability_fuzz.rs`. Each property panics when violated:
//!
//! - errors map to a 4xx/501/505 status; a complete head is within the input and the limits;
//! - incremental parsing agrees with one-shot parsing: every strict prefix of a complete head is
//!   `Partial`, and the head alone parses to the same request;
//! - the body decoder consumes the same bytes whether fed at once or in small pieces.
//!
//! Input layout of [`check`]: byte 0 picks the limits, byte 1 the split/step sizes, the rest is
//! the byte stream of a connection.

use tcpserver::http::{BodyDecoder, BodyKind, Limits, ParseError, Parsed, parse_request};

/// Runs every property on one fuzz input.
pub fn check(data: &[u8]) {
    let [pick, split, input @ ..] = data else {
        return;
    };
    check_stream(input, &limits(*pick), *split as usize);
}

/// The limits chosen by the first input byte: default, tiny, or large.
pub fn limits(pick: u8) -> Limits {
    match pick % 3 {
        0 => Limits::default(),
        1 => Limits::default()
            .max_request_line(24)
            .max_head(96)
            .max_headers(3),
        _ => Limits::default()
            .max_request_line(64 * 1024)
            .max_head(128 * 1024)
            .max_headers(128),
    }
}

/// Parses the stream as a connection would: request after request, each body skipped.
pub fn check_stream(mut input: &[u8], limits: &Limits, split: usize) {
    for _ in 0..64 {
        let req = match parse_request(input, limits) {
            Err(e) => {
                check_error(e);
                return;
            }
            Ok(Parsed::Partial) => {
                assert!(
                    input.len() <= limits.get_max_head().max(limits.get_max_request_line() + 2),
                    "Partial for {} bytes, past the limits {limits:?}",
                    input.len()
                );
                return;
            }
            Ok(Parsed::Complete(req)) => req,
        };
        let head_len = req.head_len();
        assert!(
            head_len > 0 && head_len <= input.len(),
            "head_len {head_len}"
        );
        assert!(
            head_len <= limits.get_max_head(),
            "head {head_len} > {limits:?}"
        );
        assert!(borrows_from(input, req.method().as_bytes()));
        assert!(borrows_from(input, req.path().as_bytes()));

        // The head alone parses to the same request.
        assert_eq!(
            parse_request(&input[..head_len], limits),
            Ok(Parsed::Complete(req)),
            "head alone parses differently"
        );
        // Any strict prefix is incomplete, not an error (a server reading the head in pieces
        // must accept what it accepts in one read).
        let cut = split % head_len;
        assert_eq!(
            parse_request(&input[..cut], limits),
            Ok(Parsed::Partial),
            "prefix of {cut} of a {head_len}-byte head is not Partial"
        );

        let rest = &input[head_len..];
        let whole = decode(req.body(), rest, usize::MAX);
        let pieces = decode(req.body(), rest, split % 7 + 1);
        assert_eq!(whole, pieces, "body decoded differently when fed in pieces");
        match whole {
            Ok(Some(used)) => input = &rest[used..],
            Ok(None) => return, // body incomplete
            Err(e) => {
                check_error(e);
                return;
            }
        }
        if matches!(req.body(), BodyKind::Length(_) | BodyKind::Chunked) && input.is_empty() {
            return;
        }
    }
}

fn check_error(e: ParseError) {
    let code = e.status().code();
    assert!(
        (400..500).contains(&code) || code == 501 || code == 505,
        "{e:?} maps to status {code}"
    );
    // Display must not panic either.
    let _ = e.to_string();
}

/// Feeds `body` to a decoder in pieces of `step` bytes, keeping unconsumed bytes as a
/// connection buffer would. `Some(consumed)` once done, `None` if the input ends first.
fn decode(kind: BodyKind, body: &[u8], step: usize) -> Result<Option<usize>, ParseError> {
    let mut decoder = BodyDecoder::new(kind);
    let mut consumed = 0;
    let mut available = 0;
    loop {
        if decoder.is_done() {
            return Ok(Some(consumed));
        }
        let before = consumed;
        let n = decoder.discard(&body[consumed..available])?;
        assert!(consumed + n <= available, "consumed past the buffer");
        consumed += n;
        if decoder.is_done() {
            return Ok(Some(consumed));
        }
        if consumed == before && available == body.len() {
            return Ok(None);
        }
        if consumed == before || available - consumed == 0 {
            available = available.saturating_add(step).min(body.len());
        }
    }
}

/// Whether `part` lies inside `whole` (the parser returns borrowed slices of its input).
fn borrows_from(whole: &[u8], part: &[u8]) -> bool {
    let (start, end) = (
        whole.as_ptr() as usize,
        whole.as_ptr() as usize + whole.len(),
    );
    let p = part.as_ptr() as usize;
    p >= start && p + part.len() <= end
}
