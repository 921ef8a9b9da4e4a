//! Properties of loadgen's sans-I/O response parser (`loadgen::attack::response`), shared by the
//! fuzz target and the regression test `loadgen/tests/faults_fuzz_regressions.rs`. Each property
//! panics when violated:
//!
//! - `parse` never reports more consumed bytes than it was given;
//! - the outcome (responses, their status/keep-alive/body sizes, the final error or end-of-stream
//!   result) is the same whether the stream arrives in one read or in pieces of 1..=8 bytes.
//!
//! Input layout of [`check`]: byte 0 (bit 0: HEAD request; bits 1..: step size), then the bytes
//! a server sent on one connection.

use loadgen::attack::response::{ParseError, Progress, Response, ResponseParser};

/// At most this many responses per input (a keep-alive connection in miniature).
const MAX_RESPONSES: usize = 32;

/// What a connection made of a byte stream.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Complete responses, in order.
    pub responses: Vec<Response>,
    /// How it ended: `Err` = invalid response; `Ok(Some)` = a close-delimited response finished
    /// at end of stream; `Ok(None)` = stream ended between responses or incomplete.
    pub end: Result<Option<Response>, ParseError>,
}

/// Runs every property on one fuzz input.
pub fn check(data: &[u8]) {
    let [flags, wire @ ..] = data else {
        return;
    };
    let head_request = flags & 1 == 1;
    let step = usize::from(flags >> 1) % 8 + 1;
    let whole = feed(wire, usize::MAX, head_request);
    let pieces = feed(wire, step, head_request);
    assert_eq!(
        whole, pieces,
        "one read and reads of {step} bytes parse differently"
    );
}

/// Feeds `wire` in reads of `step` bytes the way loadgen's connection does: bytes reported as
/// consumed are dropped, the rest is passed again with the next read appended.
pub fn feed(wire: &[u8], step: usize, head_request: bool) -> Outcome {
    feed_reads(wire, &mut std::iter::repeat(step), head_request)
}

/// [`feed`] with reads of the sizes `reads` yields (the rest of `wire` at once when it ends).
pub fn feed_reads(
    wire: &[u8],
    reads: &mut dyn Iterator<Item = usize>,
    head_request: bool,
) -> Outcome {
    let mut parser = ResponseParser::new(head_request);
    let mut pending: Vec<u8> = Vec::new();
    let mut offset = 0;
    let mut responses = Vec::new();
    loop {
        let take = reads.next().unwrap_or(usize::MAX).min(wire.len() - offset);
        pending.extend_from_slice(&wire[offset..offset + take]);
        offset += take;
        loop {
            match parser.parse(&pending) {
                Err(e) => {
                    return Outcome {
                        responses,
                        end: Err(e),
                    };
                }
                Ok(Progress::Complete { consumed, response }) => {
                    assert!(consumed <= pending.len(), "consumed past the buffer");
                    responses.push(response);
                    pending.drain(..consumed);
                    parser.reset();
                    if responses.len() == MAX_RESPONSES {
                        return Outcome {
                            responses,
                            end: Ok(None),
                        };
                    }
                }
                Ok(Progress::Partial { consumed }) => {
                    assert!(consumed <= pending.len(), "consumed past the buffer");
                    pending.drain(..consumed);
                    break;
                }
            }
        }
        if offset == wire.len() {
            let end = match parser.finish() {
                Ok(r) => Ok(Some(r)),
                Err(ParseError::Incomplete) => Ok(None),
                Err(e) => Err(e),
            };
            return Outcome { responses, end };
        }
    }
}
