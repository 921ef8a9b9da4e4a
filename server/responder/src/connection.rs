//! One HTTP/1.1 connection: read, parse every complete pipelined request, answer them all with
//! one write, repeat.
//!
//! The driver is generic over the byte stream so it runs on plain TCP, TLS or an in-memory
//! duplex pipe alike. Per batch it costs exactly one read and one write: tokio clears read
//! readiness on a short read, so the next read waits for epoll instead of returning EAGAIN.
//! Nothing is allocated per request: buffers come from per-thread pools (see `buffers`).

use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::buffers::{READ_BUF, give_out, give_read, take_out, take_read};
use crate::reply::Reply;
use tcpserver::http::{
    BodyDecoder, BodyKind, CONTINUE_100, Limits, ParseError, Parsed, ResponseHead, Status,
    parse_request,
};

/// Responses are written out early once a batch has produced this much.
const FLUSH_AT: usize = 256 * 1024;
/// How long to drain a misbehaving client's input before closing (so it sees the error reply
/// instead of a reset).
const LINGER: Duration = Duration::from_secs(2);
/// At most this much input is drained when lingering.
const LINGER_BYTES: usize = 256 * 1024;

/// What every connection of one responder does, shared by all connections.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) reply: Reply,
    pub(crate) keep_alive: bool,
    pub(crate) sleep: Option<Duration>,
    pub(crate) header_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) limits: Limits,
}

/// Why a connection ended early (for debug logs).
#[derive(Debug)]
enum End {
    Io(io::Error),
    Timeout,
}

impl From<io::Error> for End {
    fn from(e: io::Error) -> Self {
        End::Io(e)
    }
}

/// A byte stream the driver can serve.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin {
    /// Whether the stream buffers and encrypts (TLS): then writes need a `flush()` and the close
    /// a `shutdown()` (close_notify). Plain TCP needs neither, which saves calls and a syscall.
    fn is_tls(&self) -> bool;

    /// Whether the server is shutting down: then the next response says `Connection: close`
    /// and the connection ends after it.
    fn shutting_down(&self) -> bool;
}

/// Serves HTTP/1.1 on `io` until the peer closes, keep-alive ends, an error or a timeout.
pub(crate) async fn serve_connection<S: Transport>(io: S, settings: &Settings) {
    let mut conn = Conn::new(io, settings);
    match conn.run().await {
        Ok(Close::Quiet) => {
            if conn.io.is_tls() {
                let _ = conn.io.shutdown().await;
            }
        }
        Ok(Close::Linger) => conn.linger().await,
        Err(End::Io(e)) => tracing::debug!("connection error: {e}"),
        Err(End::Timeout) => tracing::debug!("connection timed out"),
    }
}

/// How to close once `run` returns.
enum Close {
    /// The exchange ended normally: close (after close_notify on TLS).
    Quiet,
    /// An error reply was sent: half-close and drain input so the client reads it.
    Linger,
}

struct Conn<'s, S> {
    io: S,
    settings: &'s Settings,
    rbuf: Vec<u8>,
    /// Unconsumed input is `rbuf[start..end]`.
    start: usize,
    end: usize,
    out: Vec<u8>,
    /// Requests completed plus body reads, for the lazy header-timeout check.
    progress: u64,
    /// Keep-alive allowed for this batch (off once the server is shutting down).
    keep_alive: bool,
    /// The last reply's body is not in `out` yet: it is `settings.reply.deferred_body()`.
    deferred: bool,
}

/// A request whose body is still arriving.
struct PendingBody {
    decoder: BodyDecoder,
    keep_alive: bool,
    head_only: bool,
}

/// Outcome of processing the buffered input.
enum Step {
    /// Everything buffered is consumed or incomplete: read more.
    Read,
    /// Write what is queued, then close.
    Close(Close),
}

impl<'s, S: Transport> Conn<'s, S> {
    fn new(io: S, settings: &'s Settings) -> Self {
        Conn {
            io,
            settings,
            rbuf: Vec::new(),
            start: 0,
            end: 0,
            out: Vec::new(),
            progress: 0,
            keep_alive: settings.keep_alive,
            deferred: false,
        }
    }

    async fn run(&mut self) -> Result<Close, End> {
        let mut pending: Option<PendingBody> = None;
        let mut timer = HeaderTimer::new(self.settings);
        let sleep = std::pin::pin!(tokio::time::sleep_until(timer.deadline));
        let mut sleep = ArmedSleep::new(sleep, self.settings.header_timeout);
        loop {
            let step = self.process(&mut pending).await?;
            if !self.out.is_empty() {
                self.flush().await?;
            }
            if let Step::Close(close) = step {
                return Ok(close);
            }
            self.make_room()?;
            // Read, or handle the header timer if it fires first.
            let n = loop {
                match self.read_or_timer(&mut sleep).await? {
                    Some(n) => break n,
                    None => {
                        let partial = self.start < self.end || pending.is_some();
                        match timer.fired(self.progress, partial) {
                            TimerVerdict::Rearm(deadline) => sleep.reset(deadline),
                            TimerVerdict::Idle => return Ok(Close::Quiet),
                            TimerVerdict::HeadTimeout => {
                                error_reply(self.out(), Status::REQUEST_TIMEOUT);
                                self.flush().await?;
                                return Err(End::Timeout);
                            }
                        }
                    }
                }
            };
            if n == 0 {
                // Peer closed (possibly mid-request: nothing to answer then).
                return Ok(Close::Quiet);
            }
            self.end += n;
        }
    }

    /// Parses and answers every complete request in the buffer.
    async fn process(&mut self, pending: &mut Option<PendingBody>) -> Result<Step, End> {
        let settings = self.settings;
        // One atomic load per batch: on shutdown, answer this batch's request and close.
        self.keep_alive = settings.keep_alive && !self.io.shutting_down();
        loop {
            if let Some(body) = pending {
                match body.decoder.discard(&self.rbuf[self.start..self.end]) {
                    Ok(n) => {
                        self.start += n;
                        self.progress += 1;
                    }
                    Err(e) => return Ok(self.reject(e)),
                }
                if !body.decoder.is_done() {
                    return Ok(Step::Read);
                }
                let (keep_alive, head_only) = (body.keep_alive, body.head_only);
                *pending = None;
                self.respond(keep_alive, head_only).await?;
                if !keep_alive {
                    return Ok(Step::Close(Close::Quiet));
                }
                continue;
            }
            if self.start == self.end {
                return Ok(Step::Read);
            }
            let req = match parse_request(&self.rbuf[self.start..self.end], &settings.limits) {
                Ok(Parsed::Complete(req)) => req,
                Ok(Parsed::Partial) => return Ok(Step::Read),
                Err(e) => return Ok(self.reject(e)),
            };
            self.start += req.head_len();
            let keep_alive = req.keep_alive() && self.keep_alive;
            let head_only = req.is_head();
            if req.body() == BodyKind::Empty {
                self.respond(keep_alive, head_only).await?;
                if !keep_alive {
                    return Ok(Step::Close(Close::Quiet));
                }
                continue;
            }
            let mut decoder = BodyDecoder::new(req.body());
            let expect_continue = req.expect_continue();
            match decoder.discard(&self.rbuf[self.start..self.end]) {
                Ok(n) => self.start += n,
                Err(e) => return Ok(self.reject(e)),
            }
            if !decoder.is_done() && expect_continue {
                self.out().extend_from_slice(CONTINUE_100);
            }
            *pending = Some(PendingBody {
                decoder,
                keep_alive,
                head_only,
            });
        }
    }

    /// Queues the answer to one request (after `--sleep-ms`).
    async fn respond(&mut self, keep_alive: bool, head_only: bool) -> Result<(), End> {
        let settings = self.settings;
        if let Some(delay) = settings.sleep {
            tokio::time::sleep(delay).await;
        }
        let out = self.out();
        self.deferred = settings.reply.append(out, keep_alive, head_only);
        self.progress += 1;
        if self.out.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Queues the error reply for a request that cannot be framed; the connection closes after.
    fn reject(&mut self, e: ParseError) -> Step {
        tracing::debug!("bad request: {e}");
        error_reply(self.out(), e.status());
        Step::Close(Close::Linger)
    }

    /// The output buffer (taken from the pool for this batch), after completing the previous
    /// reply with its deferred body.
    fn out(&mut self) -> &mut Vec<u8> {
        if self.out.capacity() == 0 {
            self.out = take_out();
        }
        if std::mem::take(&mut self.deferred) {
            self.out
                .extend_from_slice(self.settings.reply.deferred_body());
        }
        &mut self.out
    }

    async fn flush(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.deferred) {
            let body = self.settings.reply.deferred_body();
            write_all_pair(&mut self.io, &self.out, body).await?;
        } else {
            self.io.write_all(&self.out).await?;
        }
        if self.io.is_tls() {
            self.io.flush().await?;
        }
        give_out(std::mem::take(&mut self.out));
        Ok(())
    }

    /// Gives the read buffer back if everything was consumed; else moves the unconsumed input to
    /// the front (the connection keeps the buffer) and grows it when a partial request fills it.
    fn make_room(&mut self) -> Result<(), End> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if !self.rbuf.is_empty() {
                give_read(std::mem::take(&mut self.rbuf));
            }
            return Ok(());
        }
        if self.start > 0 {
            self.rbuf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.rbuf.len() {
            // The parsers reject heads and lines longer than these limits, so the buffer never
            // needs to grow further; this check is only a guard.
            let cap = self.settings.limits.get_max_head().max(READ_BUF) + READ_BUF * 2;
            if self.rbuf.len() >= cap {
                return Err(End::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request does not fit the buffer",
                )));
            }
            let len = (self.rbuf.len() * 2).min(cap);
            self.rbuf.resize(len, 0);
        }
        Ok(())
    }

    /// Reads into the free part of the buffer; `None` when the timer fired first.
    ///
    /// Without a partial request the connection holds no read buffer: it takes one from the
    /// pool for each poll and keeps it only if data arrived.
    async fn read_or_timer(&mut self, sleep: &mut ArmedSleep<'_>) -> io::Result<Option<usize>> {
        let (io, rbuf, end) = (&mut self.io, &mut self.rbuf, self.end);
        poll_fn(|cx| {
            let borrowed = rbuf.is_empty();
            if borrowed {
                *rbuf = take_read();
            }
            let mut buf = ReadBuf::new(&mut rbuf[end..]);
            let polled = Pin::new(&mut *io).poll_read(cx, &mut buf);
            let n = buf.filled().len();
            match polled {
                Poll::Ready(Ok(())) if n > 0 => return Poll::Ready(Ok(Some(n))),
                Poll::Ready(result) => {
                    if borrowed {
                        give_read(std::mem::take(rbuf));
                    }
                    return Poll::Ready(result.map(|()| Some(0)));
                }
                Poll::Pending => {
                    if borrowed {
                        give_read(std::mem::take(rbuf));
                    }
                }
            }
            sleep.poll_fired(cx).map(|()| Ok(None))
        })
        .await
    }

    /// Half-closes and drains input for a while, so the client reads the error reply rather than
    /// a connection reset caused by closing with unread data.
    async fn linger(&mut self) {
        let _ = self.io.shutdown().await;
        if self.rbuf.is_empty() {
            self.rbuf = take_read();
        }
        let drain = async {
            let mut drained = 0;
            while drained < LINGER_BYTES {
                match self.io.read(&mut self.rbuf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
    }
}

impl<S> Drop for Conn<'_, S> {
    fn drop(&mut self) {
        give_read(std::mem::take(&mut self.rbuf));
        give_out(std::mem::take(&mut self.out));
    }
}

/// Writes `a` then `b` with vectored writes (one `writev` when the socket takes it all).
async fn write_all_pair<W: AsyncWrite + Unpin>(
    io: &mut W,
    mut a: &[u8],
    mut b: &[u8],
) -> io::Result<()> {
    while !a.is_empty() || !b.is_empty() {
        let n = if a.is_empty() {
            io.write(b).await?
        } else {
            io.write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
                .await?
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        if n < a.len() {
            a = &a[n..];
        } else {
            b = &b[n - a.len()..];
            a = &[];
        }
    }
    Ok(())
}

/// Queues a body-less error reply that announces the close.
fn error_reply(out: &mut Vec<u8>, status: Status) {
    ResponseHead::new(status)
        .content_length(0)
        .keep_alive(false)
        .encode(out);
}

/// The connection's timer. Once polled, its waker stays registered in the timer wheel (the task's
/// waker does not change), so later polls only check `is_elapsed` instead of going through
/// `Sleep::poll` (coop budget, waker registration) on every read.
///
/// It also skips even that check while a coarse clock shows the deadline is still far away: the
/// timer's state lives in a separate allocation, and reading it on every batch was a cache miss.
struct ArmedSleep<'a> {
    sleep: Pin<&'a mut Sleep>,
    registered: bool,
    /// Until this coarse-clock time (ms) the timer cannot have fired.
    quiet_until_ms: u64,
}

impl<'a> ArmedSleep<'a> {
    /// `sleep` was just set to fire `wait` from now.
    fn new(sleep: Pin<&'a mut Sleep>, wait: Duration) -> Self {
        ArmedSleep {
            sleep,
            registered: false,
            quiet_until_ms: quiet_until_ms(wait),
        }
    }

    fn poll_fired(&mut self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.registered {
            if coarse_clock_ms() < self.quiet_until_ms || !self.sleep.is_elapsed() {
                return Poll::Pending;
            }
            return Poll::Ready(());
        }
        self.registered = true;
        self.sleep.as_mut().poll(cx)
    }

    fn reset(&mut self, deadline: Instant) {
        self.sleep.as_mut().reset(deadline);
        self.registered = false;
        self.quiet_until_ms = quiet_until_ms(deadline.saturating_duration_since(Instant::now()));
    }
}

/// Slack for the coarse clock's lag behind the precise one (one tick is at most 10 ms).
const COARSE_SLACK_MS: u64 = 25;

/// The coarse-clock time before which a timer set now to fire after `wait` cannot have fired:
/// the timer fires at precise-now + `wait`, and the coarse clock lags the precise one by less
/// than the slack.
fn quiet_until_ms(wait: Duration) -> u64 {
    let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    (coarse_clock_ms() + wait_ms).saturating_sub(COARSE_SLACK_MS)
}

/// A monotonic clock in milliseconds that is cheap to read (no hardware counter): Linux's
/// `CLOCK_MONOTONIC_COARSE`. Elsewhere it returns 0, so that the timer is always checked.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn coarse_clock_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) } != 0 {
        return 0;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let millis = u64::try_from(ts.tv_nsec).unwrap_or(0) / 1_000_000;
    secs.saturating_mul(1000).saturating_add(millis)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn coarse_clock_ms() -> u64 {
    0
}

/// The header-read and idle deadlines, checked lazily: the timer is armed once and, when it
/// fires, re-armed if the connection made progress meanwhile. So a busy keep-alive connection
/// touches the timer wheel once per timeout period, not once per request. A request head that is
/// incomplete at two consecutive firings (or at the first one, on a fresh connection) has taken
/// between one and two header timeouts: it gets 408 and a close.
struct HeaderTimer {
    deadline: Instant,
    header_timeout: Duration,
    idle_timeout: Duration,
    progress_at_fire: u64,
    partial_at_fire: bool,
    idle: Duration,
    last_wait: Duration,
}

enum TimerVerdict {
    Rearm(Instant),
    Idle,
    HeadTimeout,
}

impl HeaderTimer {
    fn new(settings: &Settings) -> Self {
        HeaderTimer {
            deadline: Instant::now() + settings.header_timeout,
            header_timeout: settings.header_timeout,
            idle_timeout: settings.idle_timeout,
            progress_at_fire: 0,
            partial_at_fire: false,
            idle: Duration::ZERO,
            last_wait: settings.header_timeout,
        }
    }

    fn fired(&mut self, progress: u64, partial: bool) -> TimerVerdict {
        let fresh = progress == 0;
        let progressed = progress != self.progress_at_fire;
        let stalled = self.partial_at_fire;
        self.progress_at_fire = progress;
        self.partial_at_fire = partial;
        if progressed {
            self.idle = Duration::ZERO;
        } else if partial && (stalled || fresh) {
            return TimerVerdict::HeadTimeout;
        } else if !partial {
            if fresh {
                return TimerVerdict::Idle;
            }
            self.idle += self.last_wait;
            if self.idle >= self.idle_timeout {
                return TimerVerdict::Idle;
            }
        }
        let wait = if partial || progressed {
            self.header_timeout
        } else {
            self.header_timeout
                .min(self.idle_timeout.saturating_sub(self.idle))
        };
        self.last_wait = wait;
        self.deadline = Instant::now() + wait;
        TimerVerdict::Rearm(self.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::BodyEncoder;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    fn settings(keep_alive: bool) -> Settings {
        Settings {
            reply: Reply::new(BodyEncoder::new(b"hello".to_vec(), false)),
            keep_alive,
            sleep: None,
            header_timeout: Duration::from_millis(300),
            idle_timeout: Duration::from_millis(600),
            limits: Limits::default(),
        }
    }

    impl Transport for DuplexStream {
        fn is_tls(&self) -> bool {
            true
        }

        fn shutting_down(&self) -> bool {
            false
        }
    }

    /// Runs the driver on one end of a pipe; returns the other end.
    fn start(settings: Settings) -> (DuplexStream, tokio::task::JoinHandle<()>) {
        let (client, server) = tokio::io::duplex(1 << 20);
        let task = tokio::spawn(async move { serve_connection(server, &settings).await });
        (client, task)
    }

    async fn read_to_close(client: &mut DuplexStream) -> String {
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        String::from_utf8(out).unwrap()
    }

    async fn read_n_responses(client: &mut DuplexStream, n: usize) -> String {
        let mut out = Vec::new();
        let mut buf = [0; 4096];
        while String::from_utf8_lossy(&out).matches("HTTP/1.1 ").count() < n
            || !out.ends_with(b"hello")
        {
            let k = client.read(&mut buf).await.unwrap();
            assert!(k > 0, "closed early: {}", String::from_utf8_lossy(&out));
            out.extend_from_slice(&buf[..k]);
        }
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn pipelined_requests_in_order() {
        let (mut client, _task) = start(settings(true));
        let req = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: x\r\n\r\n";
        client.write_all(req.as_bytes()).await.unwrap();
        let text = read_n_responses(&mut client, 3).await;
        assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{text}");
        assert_eq!(text.matches("Connection: keep-alive\r\n").count(), 3);
        assert_eq!(text.matches("Content-Length: 5\r\n").count(), 3);
    }

    #[tokio::test]
    async fn large_bodies_written_without_copy_stay_in_order() {
        let mut s = settings(true);
        s.reply = Reply::new(BodyEncoder::new(vec![b'z'; 5000], false));
        let (mut client, _task) = start(s);
        let req = "GET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nPUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
        client.write_all(req.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0; 65536];
        while !got.ends_with(CONTINUE_100) {
            let k = client.read(&mut buf).await.unwrap();
            assert!(k > 0);
            got.extend_from_slice(&buf[..k]);
        }
        client.write_all(b"ok").await.unwrap();
        while got.iter().filter(|&&b| b == b'z').count() < 15000 {
            let k = client.read(&mut buf).await.unwrap();
            assert!(k > 0);
            got.extend_from_slice(&buf[..k]);
        }
        let text = String::from_utf8(got).unwrap();
        let z = "z".repeat(5000);
        let parts: Vec<&str> = text.split("HTTP/1.1 ").collect();
        assert_eq!(parts.len(), 6, "{}", text.len());
        assert!(parts[1].starts_with("200 OK") && parts[1].ends_with(&z));
        assert!(
            parts[2].starts_with("200 OK") && parts[2].ends_with("\r\n\r\n"),
            "HEAD"
        );
        assert!(parts[3].ends_with(&z));
        assert_eq!(parts[4], "100 Continue\r\n\r\n");
        assert!(parts[5].ends_with(&z));
    }

    #[tokio::test]
    async fn random_segmentation_gives_the_same_answers() {
        // A pipelined mix (bodies, chunked, HEAD) written in pseudo-random pieces must always
        // produce the same responses, whatever the read boundaries.
        let stream: &[u8] = b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n\
POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
HEAD /3 HTTP/1.1\r\nHost: x\r\n\r\n\
POST /4 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: v\r\n\r\n\
GET /5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut expected: Option<Vec<u8>> = None;
        for _ in 0..30 {
            let (mut client, task) = start(settings(true));
            let mut pos = 0;
            while pos < stream.len() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let n = (1 + seed % 40) as usize;
                let end = (pos + n).min(stream.len());
                client.write_all(&stream[pos..end]).await.unwrap();
                pos = end;
                tokio::task::yield_now().await;
            }
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            task.await.unwrap();
            // Dates may differ between runs: compare with the Date values blanked.
            let text = String::from_utf8(got).unwrap();
            let blanked: Vec<u8> = text
                .split("\r\n")
                .map(|l| {
                    if l.starts_with("Date: ") {
                        "Date: -"
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\r\n")
                .into_bytes();
            assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 5, "{text}");
            let last = text.rsplit("HTTP/1.1 ").next().unwrap_or_default();
            assert!(
                last.contains("Connection: close\r\n") && last.ends_with("hello"),
                "{last}"
            );
            match &expected {
                None => expected = Some(blanked),
                Some(e) => assert_eq!(e, &blanked),
            }
        }
    }

    #[tokio::test]
    async fn body_split_across_reads_and_chunked() {
        let (mut client, _task) = start(settings(true));
        client
            .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe")
            .await
            .unwrap();
        tokio::task::yield_now().await;
        client
            .write_all(b"llo\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let text = read_n_responses(&mut client, 2).await;
        assert_eq!(text.matches("200 OK").count(), 2, "{text}");
    }

    #[tokio::test]
    async fn expect_continue_gets_100() {
        let (mut client, _task) = start(settings(true));
        client
            .write_all(
                b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
            )
            .await
            .unwrap();
        let mut buf = [0; CONTINUE_100.len()];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, CONTINUE_100);
        client.write_all(b"body").await.unwrap();
        let text = read_n_responses(&mut client, 1).await;
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    }

    #[tokio::test]
    async fn malformed_gets_400_and_close() {
        let (mut client, task) = start(settings(true));
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nBAD REQUEST\x01\r\n\r\n")
            .await
            .unwrap();
        let text = read_to_close(&mut client).await;
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert!(text.contains("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.ends_with("Connection: close\r\n\r\n"), "{text}");
        drop(client);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn keep_alive_off_and_http10() {
        let (mut client, _task) = start(settings(false));
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let text = read_to_close(&mut client).await;
        assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 1, "{text}");
        assert!(text.contains("Connection: close\r\n"));

        let (mut client, _task) = start(settings(true));
        client.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let text = read_to_close(&mut client).await;
        assert!(
            text.contains("Connection: close\r\n") && text.ends_with("hello"),
            "{text}"
        );

        let (mut client, _task) = start(settings(true));
        client
            .write_all(b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0; 4096];
        let n = client.read(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.contains("Connection: keep-alive\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "HEAD has no body: {text}");
    }

    #[tokio::test]
    async fn slow_head_times_out_with_408() {
        let (mut client, task) = start(settings(true));
        client.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
        let t0 = std::time::Instant::now();
        let text = read_to_close(&mut client).await;
        assert!(text.starts_with("HTTP/1.1 408 Request Timeout"), "{text}");
        assert!(t0.elapsed() < Duration::from_secs(5));
        task.await.unwrap();
    }

    #[tokio::test]
    async fn idle_connection_closes_quietly() {
        let (mut client, task) = start(settings(true));
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        read_n_responses(&mut client, 1).await;
        let text = read_to_close(&mut client).await;
        assert_eq!(text, "");
        task.await.unwrap();
    }
}
