//! HTTP/1.1 pipelining (`--pipeline N`): one connection task keeps up to N requests in flight,
//! written back to back in one write, and matches the responses to them in order. Each request's
//! latency runs from its own send; when the connection ends with requests outstanding (the
//! server closed it, a response said `Connection: close`, a read failed, or the oldest request
//! timed out), every outstanding request is counted as one error of that class, so that
//! `requests + errors` stays exact with `-n`.

use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::conn::{LazyTimer, READ_BUFFER, Stream, TIMER_TICK, ThreadCtx, wait_for_slot};
use super::response::{Progress, ResponseParser};
use super::stats::ErrorClass;

/// One request written and not yet answered.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// When it was written.
    sent: Instant,
    /// Its slot in `-r` mode.
    intended: Option<Instant>,
}

/// The requests in flight on one connection, mirrored in the thread's in-flight count (which the
/// coordinator reads at the deadline, before dropping the task).
struct Outstanding<'a> {
    queue: VecDeque<Pending>,
    in_flight: &'a std::cell::Cell<u64>,
}

impl<'a> Outstanding<'a> {
    fn new(depth: usize, in_flight: &'a std::cell::Cell<u64>) -> Self {
        Outstanding {
            queue: VecDeque::with_capacity(depth),
            in_flight,
        }
    }

    fn push(&mut self, p: Pending) {
        self.in_flight.set(self.in_flight.get() + 1);
        self.queue.push_back(p);
    }

    fn pop(&mut self) -> Option<Pending> {
        let p = self.queue.pop_front();
        if p.is_some() {
            self.in_flight.set(self.in_flight.get() - 1);
        }
        p
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    fn len(&self) -> usize {
        self.queue.len()
    }

    fn front(&self) -> Option<&Pending> {
        self.queue.front()
    }
}

impl Drop for Outstanding<'_> {
    fn drop(&mut self) {
        self.in_flight
            .set(self.in_flight.get() - self.queue.len() as u64);
    }
}

/// Counts every outstanding request as an error of `class` (the first one also carries the
/// bytes read for it so far).
fn fail_all(ctx: &ThreadCtx, out: &mut Outstanding<'_>, class: ErrorClass, bytes_read: &mut u64) {
    let done = Instant::now();
    let written = ctx.request.len() as u64;
    let mut stats = ctx.stats.borrow_mut();
    while let Some(p) = out.pop() {
        stats.error(
            p.intended.unwrap_or(p.sent),
            done,
            class,
            std::mem::take(bytes_read),
            written,
        );
    }
}

/// The pipelined connection task; `ctx.batch` holds the request `depth` times.
pub(crate) async fn connection(ctx: Rc<ThreadCtx>, first_send: Instant, depth: usize) {
    let len = ctx.request.len();
    let mut buf = vec![0u8; READ_BUFFER];
    let mut filled = 0;
    let mut parser = ResponseParser::new(ctx.head_request);
    let mut stream: Option<Stream> = None;
    let mut out = Outstanding::new(depth, &ctx.in_flight);
    let mut timer = LazyTimer::new(Instant::now() + ctx.timeout);
    let mut next_send = first_send;
    // No tickets left (`-n`): finish what is in flight, then end.
    let mut tickets_out = false;
    // Bytes read and not yet attributed to a finished request.
    let mut bytes_read = 0u64;
    loop {
        let mut new = 0;
        if stream.is_none() {
            // A fresh connection: its first request pays for the connect.
            if tickets_out || !ctx.take_ticket() {
                return;
            }
            let intended = wait_for_slot(&ctx, ctx.interval, &mut next_send).await;
            let start = Instant::now();
            if ctx.past_deadline(start) {
                return;
            }
            match timer
                .run(start + ctx.timeout, ctx.connector.connect())
                .await
            {
                Some(Ok(s)) => {
                    let sent = Instant::now();
                    ctx.stats.borrow_mut().connected(start, sent);
                    stream = Some(s);
                    filled = 0;
                    parser.reset();
                    out.push(Pending { sent, intended });
                    new = 1;
                }
                Some(Err(_)) | None => {
                    ctx.stats.borrow_mut().error(
                        intended.unwrap_or(start),
                        Instant::now(),
                        ErrorClass::Connect,
                        0,
                        0,
                    );
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else { continue };

        // Fill the pipeline: every free place whose slot has come (all of them without -r).
        let now = Instant::now();
        while out.len() < depth && !tickets_out && !ctx.past_deadline(now) {
            let intended = match ctx.interval {
                None => None,
                Some(interval) => {
                    if next_send > now + TIMER_TICK {
                        break;
                    }
                    let slot = next_send;
                    next_send += interval;
                    if now > slot + TIMER_TICK {
                        ctx.stats.borrow_mut().late_send(slot);
                    }
                    Some(slot)
                }
            };
            if !ctx.take_ticket() {
                tickets_out = true;
                break;
            }
            out.push(Pending {
                sent: now,
                intended,
            });
            new += 1;
        }
        if new > 0 {
            let deadline = out.front().map_or(now, |p| p.sent) + ctx.timeout;
            let batch = &ctx.batch[..new * len];
            let wrote = timer
                .run(deadline, async {
                    s.write_all(batch).await?;
                    if let Stream::Tls(_) = s {
                        s.flush().await?;
                    }
                    io::Result::Ok(())
                })
                .await;
            match wrote {
                Some(Ok(())) => {}
                Some(Err(_)) => {
                    fail_all(&ctx, &mut out, ErrorClass::Write, &mut bytes_read);
                    stream = None;
                    continue;
                }
                None => {
                    fail_all(&ctx, &mut out, ErrorClass::Timeout, &mut bytes_read);
                    stream = None;
                    continue;
                }
            }
        }

        let Some(oldest) = out.front().copied() else {
            if tickets_out || ctx.past_deadline(Instant::now()) {
                return;
            }
            // Rate mode with nothing in flight: wait for the next slot.
            if let Some(wake) = next_send.checked_sub(TIMER_TICK) {
                tokio::time::sleep_until(wake.into()).await;
            }
            continue;
        };

        // Read until at least one response completes, the next slot comes (-r with a free
        // place), or the oldest request times out.
        let slot_wake = (ctx.interval.is_some() && out.len() < depth && !tickets_out)
            .then(|| next_send.checked_sub(TIMER_TICK).unwrap_or(next_send));
        let read = timer
            .run(oldest.sent + ctx.timeout, async {
                match slot_wake {
                    None => Some(s.read(&mut buf[filled..]).await),
                    Some(wake) => tokio::select! {
                        r = s.read(&mut buf[filled..]) => Some(r),
                        _ = tokio::time::sleep_until(wake.into()) => None,
                    },
                }
            })
            .await;
        let n = match read {
            None => {
                fail_all(&ctx, &mut out, ErrorClass::Timeout, &mut bytes_read);
                stream = None;
                continue;
            }
            Some(None) => continue, // a slot came: send
            Some(Some(Ok(n))) => n,
            // TLS peers often close without close_notify: an end of stream like any other.
            Some(Some(Err(e))) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Some(Some(Err(e))) => {
                fail_all(&ctx, &mut out, ErrorClass::of_io_error(&e), &mut bytes_read);
                stream = None;
                continue;
            }
        };
        if n == 0 {
            // End of stream: it may complete a close-delimited response; the rest were lost.
            if let Ok(r) = parser.finish()
                && let Some(p) = out.pop()
            {
                ctx.stats.borrow_mut().response(
                    p.sent,
                    p.intended,
                    Instant::now(),
                    r.status,
                    std::mem::take(&mut bytes_read),
                    len as u64,
                );
            }
            fail_all(&ctx, &mut out, ErrorClass::PeerClosed, &mut bytes_read);
            stream = None;
            continue;
        }
        bytes_read += n as u64;
        let end = filled + n;
        let mut pos = 0;
        let mut close = None;
        let done = Instant::now();
        while !out.is_empty() {
            match parser.parse(&buf[pos..end]) {
                Ok(Progress::Complete { consumed, response }) => {
                    pos += consumed;
                    parser.reset();
                    if let Some(p) = out.pop() {
                        ctx.stats.borrow_mut().response(
                            p.sent,
                            p.intended,
                            done,
                            response.status,
                            std::mem::take(&mut bytes_read),
                            len as u64,
                        );
                    }
                    if !response.keep_alive {
                        // The server ends the connection here: what is still queued is lost.
                        close = Some(ErrorClass::PeerClosed);
                        break;
                    }
                }
                Ok(Progress::Partial { consumed }) => {
                    pos += consumed;
                    break;
                }
                Err(_) => {
                    close = Some(ErrorClass::Parse);
                    break;
                }
            }
        }
        if close.is_none() && pos == 0 && end == buf.len() {
            close = Some(ErrorClass::Parse); // a head larger than the buffer
        }
        if let Some(class) = close {
            fail_all(&ctx, &mut out, class, &mut bytes_read);
            stream = None;
            continue;
        }
        buf.copy_within(pos..end, 0);
        filled = end - pos;
        if ctx.past_deadline(done) {
            // The coordinator counts what is in flight when its timer fires; a task that sees
            // the deadline first counts its own.
            let mut stats = ctx.stats.borrow_mut();
            stats.in_flight_at_deadline += out.len() as u64;
            return;
        }
    }
}
