//! The HTTP/2 client (`--http2`, `--h2c`): one task per connection, and nothing else. The task
//! connects (TCP, then TLS with ALPN `h2`, or prior knowledge for h2c), sends the preface, and
//! keeps `--streams N` slots busy on the connection: each slot sends one request at a time (closed
//! loop, or on its own `-r` schedule with coordinated-omission correction). Every turn of its loop
//! reads what the socket has, handles all complete frames ([`frame`]), records the finished
//! requests, refills the free slots with the request encoded once per run ([`request`]) and writes
//! everything in one go: no task, channel or lock per stream, no allocation per request.
//!
//! Errors: RST_STREAM costs its stream's request; GOAWAY lets the streams the server accepted
//! finish, and costs the others; I/O errors, protocol errors and the end of the stream ids end the
//! connection (the request of every open stream counts as one error) and it is redone.

mod frame;
mod hpack;
mod request;

use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use self::frame::{ConnectionError, Frame, FrameReader, MAX_STREAM_ID, MAX_WINDOW, code, setting};
use self::request::Block;
pub(crate) use self::request::{H2Request, build_request};
use super::conn::{LazyTimer, Stream, TIMER_TICK, ThreadCtx};
use super::stats::ErrorClass;

/// Stream flow-control window: large enough that a stream never waits for a WINDOW_UPDATE on
/// loopback (h2load's default is 1 GiB - 1 per stream, the protocol's maximum is 2^31 - 1).
const STREAM_WINDOW: u32 = 16 << 20;
/// Connection flow-control window.
const CONNECTION_WINDOW: u32 = 256 << 20;
/// The window every peer starts with.
const DEFAULT_WINDOW: u32 = 65_535;
/// Streams we open before the server's SETTINGS tell its limit: RFC 9113 §6.5.2 recommends a
/// limit of no less than 100 (nghttp2 assumes it too).
const ASSUMED_MAX_STREAMS: usize = 100;
/// Read buffer per connection.
const READ_BUFFER: usize = 64 * 1024;

/// The connection task. `first_send` is the connection's first slot in `-r` mode; its streams
/// take the slots `first_send + k * interval`, each then every `streams * interval`.
pub(crate) async fn connection(
    ctx: Rc<ThreadCtx>,
    first_send: Instant,
    streams: usize,
    request: Arc<H2Request>,
) {
    let mut timer = LazyTimer::new(Instant::now() + ctx.timeout);
    let mut conn = Connection::new(&ctx, &request, streams);
    let mut next_first = first_send;
    loop {
        if ctx.tickets.get() == Some(0) || ctx.past_deadline(Instant::now()) {
            return;
        }
        let start = Instant::now();
        let handshake = async {
            let io = ctx.connector.connect().await.ok()?;
            if let Stream::Tls(tls) = &io
                && tls.get_ref().1.alpn_protocol() != Some(b"h2")
            {
                return None; // the server does not speak HTTP/2 over TLS
            }
            Some(io)
        };
        let mut io = match timer.run(start + ctx.timeout, handshake).await {
            Some(Some(io)) => io,
            _ => {
                // The request that would have gone first counts the failed connect.
                if !ctx.take_ticket() {
                    return;
                }
                ctx.stats
                    .borrow_mut()
                    .error(start, Instant::now(), ErrorClass::Connect, 0, 0);
                continue;
            }
        };
        let now = Instant::now();
        ctx.stats.borrow_mut().connected(start, now);
        conn.run(&mut io, next_first, now).await;
        // Slots keep their pace on the new connection.
        next_first = Instant::now().max(next_first);
    }
}

/// One stream slot.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// A request is under way on `stream`.
    open: bool,
    stream: u32,
    /// When the request was sent.
    start: Instant,
    /// Its slot on the `-r` schedule.
    intended: Option<Instant>,
    /// `-r`: the next slot on this stream's schedule.
    next_due: Instant,
    /// The final status, once its header block has arrived (0 before).
    status: u16,
    /// DATA received since the last WINDOW_UPDATE for this stream.
    unacked: u32,
    /// Request body bytes sent, and the stream's send window.
    body_sent: usize,
    send_window: i64,
    /// The first send of a request the server refused and that goes out again.
    retry_of: Option<Instant>,
}

/// Why a turn of the loop ends the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// I/O error or end of stream, classified by [`ErrorClass::of_io_error`].
    Io(ErrorClass),
    /// The server broke the protocol: GOAWAY with this code, then close.
    Protocol(u32),
}

/// What woke the connection up.
enum Event {
    Read(usize),
    Timer,
    Failed(ErrorClass),
}

/// What one connection knows and owes, started afresh on every connection.
#[derive(Debug, Clone, Copy)]
struct State {
    /// Slots with a request under way.
    open: usize,
    next_stream: u32,
    /// `out[written..]` is still to go, then a flush (for TLS).
    written: usize,
    flush: bool,
    /// Bytes read and written not yet attributed to a request.
    unattributed_read: u64,
    unattributed_written: u64,
    /// Whether this connection has sent a request.
    sent_any: bool,
    /// The server's limits.
    max_streams: usize,
    /// The first stream opened after the server's first SETTINGS (`None` before them): the
    /// streams below it were opened before its stream limit was known.
    settings_from_stream: Option<u32>,
    peer_max_frame: usize,
    peer_initial_window: i64,
    /// Our send window on the connection (request bodies).
    send_window: i64,
    /// DATA received since the last connection WINDOW_UPDATE.
    unacked: u32,
    /// The header block the next request carries (after `size_update`, if any).
    block: Block,
    /// GOAWAY's last stream id: no new streams, the ones above it are lost.
    going_away: Option<u32>,
    /// When the timer is set to fire.
    armed: Option<Instant>,
}

impl State {
    /// A new connection, before the server's SETTINGS.
    const NEW: State = State {
        open: 0,
        next_stream: 1,
        written: 0,
        flush: false,
        unattributed_read: 0,
        unattributed_written: 0,
        sent_any: false,
        max_streams: ASSUMED_MAX_STREAMS,
        settings_from_stream: None,
        peer_max_frame: frame::DEFAULT_MAX_FRAME,
        peer_initial_window: DEFAULT_WINDOW as i64,
        send_window: DEFAULT_WINDOW as i64,
        unacked: 0,
        block: Block::First,
        going_away: None,
        armed: None,
    };
}

/// The state of one connection task, reused (buffers and all) by its successive connections.
struct Connection<'a> {
    ctx: &'a ThreadCtx,
    request: &'a H2Request,
    /// Time between two sends of one stream in `-r` mode.
    stream_interval: Option<Duration>,
    slots: Vec<Slot>,
    reader: FrameReader,
    decoder: hpack::Decoder,
    /// Bytes to write (see [`State::written`]).
    out: Vec<u8>,
    /// A dynamic table size update for the start of the next header block, if the server
    /// asked for a smaller HPACK table.
    size_update: Vec<u8>,
    /// One timer for the `-r` schedule and the request timeouts, armed for
    /// [`State::armed`]. It may fire early (then it is re-armed), never late.
    sleep: Pin<Box<Sleep>>,
    state: State,
}

impl<'a> Connection<'a> {
    fn new(ctx: &'a ThreadCtx, request: &'a H2Request, streams: usize) -> Self {
        let now = Instant::now();
        let slot = Slot {
            open: false,
            stream: 0,
            start: now,
            intended: None,
            next_due: now,
            status: 0,
            unacked: 0,
            body_sent: 0,
            send_window: 0,
            retry_of: None,
        };
        Connection {
            ctx,
            request,
            stream_interval: ctx.interval.map(|i| i * streams as u32),
            slots: vec![slot; streams.max(1)],
            reader: FrameReader::new(READ_BUFFER),
            decoder: hpack::Decoder::default(),
            out: Vec::with_capacity(4096),
            size_update: Vec::new(),
            sleep: Box::pin(tokio::time::sleep_until(now.into())),
            state: State::NEW,
        }
    }

    /// Starts over on a new connection `io`.
    fn reset(&mut self, first_send: Instant) {
        let interval = self.ctx.interval.unwrap_or(Duration::ZERO);
        for (k, s) in self.slots.iter_mut().enumerate() {
            s.open = false;
            s.retry_of = None;
            s.next_due = first_send + interval * k as u32;
        }
        self.reader.clear();
        self.decoder = hpack::Decoder::default();
        self.out.clear();
        self.size_update.clear();
        self.state = State::NEW;
    }

    /// Runs one connection until it is of no more use (the run is over, GOAWAY, stream ids
    /// exhausted) or fails.
    async fn run(&mut self, io: &mut Stream, first_send: Instant, mut now: Instant) {
        self.reset(first_send);
        self.out.extend_from_slice(frame::PREFACE);
        frame::write_settings(
            &mut self.out,
            &[
                (setting::ENABLE_PUSH, 0),
                (setting::INITIAL_WINDOW_SIZE, STREAM_WINDOW),
            ],
        );
        frame::write_window_update(&mut self.out, 0, CONNECTION_WINDOW - DEFAULT_WINDOW);
        loop {
            self.refill(now);
            if self.state.open == 0 && !self.may_send_later(now) {
                if self.state.next_stream > MAX_STREAM_ID {
                    // Out of stream ids: say goodbye properly before the next connection.
                    frame::write_goaway(&mut self.out, code::NO_ERROR);
                    self.write_best_effort(io).await;
                }
                return;
            }
            self.arm_timer(now);
            let event = poll_fn(|cx| self.poll_io(cx, io)).await;
            now = Instant::now();
            let failure = match event {
                Event::Read(n) => {
                    self.state.unattributed_read += n as u64;
                    self.reader.filled(n);
                    self.handle_frames(now).err()
                }
                Event::Timer => {
                    self.state.armed = None;
                    self.expire(now);
                    None
                }
                Event::Failed(class) => Some(Failure::Io(class)),
            };
            if let Some(failure) = failure {
                let class = match failure {
                    Failure::Io(class) => class,
                    Failure::Protocol(code) => {
                        // After what is still to go (a frame may be half written).
                        frame::write_goaway(&mut self.out, code);
                        self.write_best_effort(io).await;
                        ErrorClass::Protocol
                    }
                };
                self.fail_all(now, class);
                return;
            }
        }
    }

    /// Whether a stream may still start on this connection, now or later.
    fn may_send_later(&self, now: Instant) -> bool {
        self.state.going_away.is_none()
            && self.state.next_stream <= MAX_STREAM_ID
            && self.ctx.tickets.get() != Some(0)
            && !self.ctx.past_deadline(now)
    }

    /// Starts a request on every free slot that is due (all of them in closed loop).
    fn refill(&mut self, now: Instant) {
        if self.state.going_away.is_some() || self.ctx.past_deadline(now) {
            return;
        }
        let limit = self.slots.len().min(self.state.max_streams);
        for k in 0..self.slots.len() {
            if self.state.open >= limit || self.state.next_stream > MAX_STREAM_ID {
                return;
            }
            let slot = &self.slots[k];
            if slot.open {
                continue;
            }
            // As `wait_for_slot` does: leave within a timer tick before the slot.
            if self.stream_interval.is_some() && now + TIMER_TICK < slot.next_due {
                continue;
            }
            if !self.ctx.take_ticket() {
                return;
            }
            let stream = self.state.next_stream;
            self.state.next_stream += 2;
            let slot = &mut self.slots[k];
            let intended = self.stream_interval.map(|interval| {
                let due = slot.next_due;
                slot.next_due += interval;
                due
            });
            *slot = Slot {
                open: true,
                stream,
                start: slot.retry_of.take().unwrap_or(now),
                intended,
                status: 0,
                unacked: 0,
                body_sent: 0,
                send_window: self.state.peer_initial_window,
                ..*slot
            };
            if let Some(due) = intended
                && now > due + TIMER_TICK
            {
                self.ctx.stats.borrow_mut().late_send(due);
            }
            self.request
                .write_headers(&mut self.out, stream, self.state.block, &self.size_update);
            self.size_update.clear();
            if self.state.block == Block::First {
                self.state.block = Block::Indexed;
            }
            if !self.request.body.is_empty() {
                self.send_body(k);
            }
            self.state.open += 1;
            self.state.sent_any = true;
            self.ctx.in_flight.set(self.ctx.in_flight.get() + 1);
        }
    }

    /// Sends as much of slot `k`'s request body as the flow-control windows allow.
    fn send_body(&mut self, k: usize) {
        let request = self.request;
        let body = &request.body;
        let slot = &mut self.slots[k];
        while slot.body_sent < body.len() {
            let n = (body.len() - slot.body_sent)
                .min(self.state.peer_max_frame)
                .min(self.state.send_window.min(slot.send_window).max(0) as usize);
            if n == 0 {
                return; // wait for a WINDOW_UPDATE
            }
            let end = slot.body_sent + n;
            let flags = if end == body.len() {
                frame::flag::END_STREAM
            } else {
                0
            };
            frame::write_header(&mut self.out, n, frame::kind::DATA, flags, slot.stream);
            self.out.extend_from_slice(&body[slot.body_sent..end]);
            slot.body_sent = end;
            slot.send_window -= n as i64;
            self.state.send_window -= n as i64;
        }
    }

    /// Sends what the windows now allow of the bodies still waiting.
    fn resume_bodies(&mut self) {
        if self.request.body.is_empty() {
            return;
        }
        for k in 0..self.slots.len() {
            if self.slots[k].open && self.slots[k].body_sent < self.request.body.len() {
                self.send_body(k);
            }
        }
    }

    /// Sets the timer for the earliest `-r` slot of a free stream or the earliest request
    /// timeout, unless it is already set to fire no later.
    fn arm_timer(&mut self, now: Instant) {
        let mut wanted: Option<Instant> = None;
        // A free slot only counts if it could start (else a slot whose time has come while
        // the server's stream limit is reached would wake the task again and again).
        let can_start = self.stream_interval.is_some()
            && self.state.open < self.slots.len().min(self.state.max_streams)
            && self.may_send_later(now);
        for s in &self.slots {
            let at = if s.open {
                s.start + self.ctx.timeout
            } else if can_start {
                s.next_due.checked_sub(TIMER_TICK).unwrap_or(s.next_due)
            } else {
                continue;
            };
            wanted = Some(wanted.map_or(at, |w| w.min(at)));
        }
        let Some(wanted) = wanted else {
            self.state.armed = None;
            return;
        };
        if self.state.armed.is_none_or(|a| wanted < a) {
            self.sleep.as_mut().reset(wanted.into());
            self.state.armed = Some(wanted);
        }
    }

    /// Writes `out` (and flushes it) while waiting for bytes to read or the timer.
    fn poll_io(&mut self, cx: &mut Context<'_>, io: &mut Stream) -> Poll<Event> {
        while self.state.written < self.out.len() {
            match Pin::new(&mut *io).poll_write(cx, &self.out[self.state.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Event::Failed(ErrorClass::PeerClosed)),
                Poll::Ready(Ok(n)) => {
                    self.state.written += n;
                    self.state.unattributed_written += n as u64;
                    self.state.flush = true;
                }
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Event::Failed(ErrorClass::of_io_error(&e)));
                }
                Poll::Pending => break,
            }
        }
        if self.state.written == self.out.len() {
            self.out.clear();
            self.state.written = 0;
            if self.state.flush {
                match Pin::new(&mut *io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.state.flush = false,
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(Event::Failed(ErrorClass::of_io_error(&e)));
                    }
                    Poll::Pending => {}
                }
            }
        }
        let mut buf = ReadBuf::new(self.reader.space());
        match Pin::new(&mut *io).poll_read(cx, &mut buf) {
            // The end of the stream, with or without TLS close_notify.
            Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                return Poll::Ready(Event::Failed(ErrorClass::PeerClosed));
            }
            Poll::Ready(Ok(())) => return Poll::Ready(Event::Read(buf.filled().len())),
            Poll::Ready(Err(e)) => return Poll::Ready(Event::Failed(ErrorClass::of_io_error(&e))),
            Poll::Pending => {}
        }
        if self.state.armed.is_some() && self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Event::Timer);
        }
        Poll::Pending
    }

    /// One attempt to write what is in `out` (a GOAWAY on the way out), without waiting.
    async fn write_best_effort(&mut self, io: &mut Stream) {
        poll_fn(|cx| {
            let rest = &self.out[self.state.written..];
            if !rest.is_empty()
                && let Poll::Ready(Ok(n)) = Pin::new(&mut *io).poll_write(cx, rest)
            {
                self.state.unattributed_written += n as u64;
            }
            let _ = Pin::new(&mut *io).poll_flush(cx);
            Poll::Ready(())
        })
        .await;
        self.out.clear();
        self.state.written = 0;
    }

    /// Handles every complete frame read so far.
    fn handle_frames(&mut self, now: Instant) -> Result<(), Failure> {
        loop {
            let frame = match self.reader.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(()),
                Err(ConnectionError { code }) => return Err(Failure::Protocol(code)),
            };
            match frame {
                Frame::Data {
                    stream,
                    end_stream,
                    flow_len,
                    ..
                } => {
                    self.state.unacked += flow_len;
                    if self.state.unacked >= CONNECTION_WINDOW / 2 {
                        frame::write_window_update(&mut self.out, 0, self.state.unacked);
                        self.state.unacked = 0;
                    }
                    let Some(k) = self.slot_of(stream) else {
                        continue; // a stream we reset or gave up on
                    };
                    let slot = &mut self.slots[k];
                    if slot.status == 0 {
                        // DATA before the response's header block.
                        self.stream_error(k, now, code::PROTOCOL_ERROR);
                    } else if end_stream {
                        self.complete(k, now);
                    } else {
                        slot.unacked += flow_len;
                        if slot.unacked >= STREAM_WINDOW / 2 {
                            frame::write_window_update(&mut self.out, stream, slot.unacked);
                            slot.unacked = 0;
                        }
                    }
                }
                Frame::Headers {
                    stream,
                    end_stream,
                    block,
                } => {
                    // Every block goes through the decoder, to keep its dynamic table in step.
                    let Ok(fields) = self.decoder.decode(block) else {
                        return Err(Failure::Protocol(code::COMPRESSION_ERROR));
                    };
                    let (status, malformed) = (fields.status, fields.bad_status);
                    let Some(k) = self.slot_of(stream) else {
                        continue;
                    };
                    match (self.slots[k].status, status) {
                        // Trailers end the stream.
                        (final_status, None) if final_status != 0 && !malformed && end_stream => {
                            self.complete(k, now)
                        }
                        // Informational (1xx) responses precede the final one.
                        (0, Some(s)) if (100..200).contains(&s) && !end_stream => {}
                        (0, Some(s)) if !(100..200).contains(&s) => {
                            self.slots[k].status = s;
                            if end_stream {
                                self.complete(k, now);
                            }
                        }
                        _ => self.stream_error(k, now, code::PROTOCOL_ERROR),
                    }
                }
                Frame::RstStream { stream, code } => match self.slot_of(stream) {
                    Some(k)
                        if code == code::REFUSED_STREAM
                            && self.state.settings_from_stream.is_none_or(|s| stream < s) =>
                    {
                        self.send_again(k)
                    }
                    Some(k) => self.finish(k, now, Err(ErrorClass::Reset)),
                    None => {}
                },
                Frame::Settings(settings) => {
                    if self.state.settings_from_stream.is_none() {
                        // No limit unless the server's first SETTINGS set one.
                        self.state.settings_from_stream = Some(self.state.next_stream);
                        self.state.max_streams = usize::MAX;
                    }
                    for (id, value) in settings.iter() {
                        match id {
                            setting::MAX_CONCURRENT_STREAMS => {
                                self.state.max_streams = value as usize
                            }
                            setting::HEADER_TABLE_SIZE if (value as usize) < hpack::TABLE_SIZE => {
                                // The server's table shrinks once it has our ACK: say so at the
                                // start of the next block, and use the table no more.
                                self.size_update = request::size_update(value as usize);
                                self.state.block = Block::Plain;
                            }
                            setting::INITIAL_WINDOW_SIZE => {
                                let value = i64::from(value);
                                if value > MAX_WINDOW {
                                    return Err(Failure::Protocol(code::FLOW_CONTROL_ERROR));
                                }
                                let delta = value - self.state.peer_initial_window;
                                self.state.peer_initial_window = value;
                                for s in self.slots.iter_mut().filter(|s| s.open) {
                                    s.send_window += delta;
                                }
                            }
                            setting::MAX_FRAME_SIZE => {
                                if !(frame::DEFAULT_MAX_FRAME as u32..=0xff_ffff).contains(&value) {
                                    return Err(Failure::Protocol(code::PROTOCOL_ERROR));
                                }
                                self.state.peer_max_frame = value as usize;
                            }
                            _ => {}
                        }
                    }
                    frame::write_header(
                        &mut self.out,
                        0,
                        frame::kind::SETTINGS,
                        frame::flag::ACK,
                        0,
                    );
                    self.resume_bodies();
                }
                Frame::Ping(data) => {
                    frame::write_header(&mut self.out, 8, frame::kind::PING, frame::flag::ACK, 0);
                    self.out.extend_from_slice(&data);
                }
                Frame::GoAway { last_stream, .. } => {
                    self.state.going_away = Some(last_stream);
                    for k in 0..self.slots.len() {
                        if self.slots[k].open && self.slots[k].stream > last_stream {
                            self.finish(k, now, Err(ErrorClass::GoAway));
                        }
                    }
                }
                Frame::WindowUpdate { stream, increment } => {
                    let increment = i64::from(increment);
                    if stream == 0 {
                        self.state.send_window += increment;
                        if self.state.send_window > MAX_WINDOW {
                            return Err(Failure::Protocol(code::FLOW_CONTROL_ERROR));
                        }
                    } else if let Some(k) = self.slot_of(stream) {
                        self.slots[k].send_window += increment;
                    }
                    self.resume_bodies();
                }
                // We disabled push: a server must not promise.
                Frame::PushPromise => return Err(Failure::Protocol(code::PROTOCOL_ERROR)),
                Frame::SettingsAck | Frame::PingAck | Frame::Ignored => {}
            }
        }
    }

    /// The slot whose open request is on `stream`.
    fn slot_of(&self, stream: u32) -> Option<usize> {
        self.slots.iter().position(|s| s.open && s.stream == stream)
    }

    /// A complete response on slot `k`.
    fn complete(&mut self, k: usize, now: Instant) {
        if self.slots[k].body_sent < self.request.body.len() {
            // The server answered before the whole body was sent: stop sending it.
            frame::write_rst_stream(&mut self.out, self.slots[k].stream, code::NO_ERROR);
        }
        let status = self.slots[k].status;
        self.finish(k, now, Ok(status));
    }

    /// A malformed response on slot `k`: reset the stream, count a protocol error.
    fn stream_error(&mut self, k: usize, now: Instant, code: u32) {
        frame::write_rst_stream(&mut self.out, self.slots[k].stream, code);
        self.finish(k, now, Err(ErrorClass::Protocol));
    }

    /// Records the outcome of slot `k`'s request and frees the slot.
    fn finish(&mut self, k: usize, now: Instant, outcome: Result<u16, ErrorClass>) {
        self.free(k);
        let slot = &self.slots[k];
        let read = std::mem::take(&mut self.state.unattributed_read);
        let written = std::mem::take(&mut self.state.unattributed_written);
        let mut stats = self.ctx.stats.borrow_mut();
        match outcome {
            Ok(status) => stats.response(slot.start, slot.intended, now, status, read, written),
            Err(class) => stats.error(
                slot.intended.unwrap_or(slot.start),
                now,
                class,
                read,
                written,
            ),
        }
    }

    /// Slot `k`'s request went out before the server's SETTINGS and was refused
    /// (REFUSED_STREAM: the server did not process it), as the streams beyond the limit those
    /// SETTINGS set are: it is sent again on a new stream once the limit allows, with its
    /// ticket, its first send time and its `-r` slot, and counts once. A request sent after
    /// the SETTINGS and refused is an error (`rstStream`), so a request is sent at most twice.
    fn send_again(&mut self, k: usize) {
        self.free(k);
        let slot = &mut self.slots[k];
        slot.retry_of = Some(slot.start);
        if let Some(due) = slot.intended {
            slot.next_due = due;
        }
        self.ctx.give_back_ticket();
    }

    /// Slot `k`'s request is no longer under way.
    fn free(&mut self, k: usize) {
        self.slots[k].open = false;
        self.state.open -= 1;
        self.ctx
            .in_flight
            .set(self.ctx.in_flight.get().saturating_sub(1));
    }

    /// Times out the requests that have waited too long (RST_STREAM CANCEL to the server).
    fn expire(&mut self, now: Instant) {
        for k in 0..self.slots.len() {
            let s = self.slots[k];
            if s.open && now >= s.start + self.ctx.timeout {
                frame::write_rst_stream(&mut self.out, s.stream, code::CANCEL);
                self.finish(k, now, Err(ErrorClass::Timeout));
            }
        }
    }

    /// The connection is gone: every open request fails with `class`. If it never carried a
    /// request, one ticket pays for it (as a failed connect does), so that a server that always
    /// fails cannot keep the client reconnecting for free.
    fn fail_all(&mut self, now: Instant, class: ErrorClass) {
        if self.state.open == 0 && !self.state.sent_any {
            if self.ctx.take_ticket() {
                let read = std::mem::take(&mut self.state.unattributed_read);
                let written = std::mem::take(&mut self.state.unattributed_written);
                self.ctx
                    .stats
                    .borrow_mut()
                    .error(now, now, class, read, written);
            }
            return;
        }
        for k in 0..self.slots.len() {
            if self.slots[k].open {
                self.finish(k, now, Err(class));
            }
        }
    }
}

impl Drop for Connection<'_> {
    /// A task dropped at the deadline: its requests are no longer in flight.
    fn drop(&mut self) {
        let c = &self.ctx.in_flight;
        c.set(c.get().saturating_sub(self.state.open as u64));
    }
}
