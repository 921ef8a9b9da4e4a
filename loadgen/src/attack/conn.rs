//! One client connection: a task on its thread's local runtime that sends requests one at a time
//! (closed loop, or open loop on a schedule with `-r`) and records each outcome.

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::response::{Progress, Response, ResponseParser};
use super::stats::{ErrorClass, ThreadStats};
use crate::sys;

/// Resolution of tokio's timer.
pub(super) const TIMER_TICK: Duration = Duration::from_millis(1);

/// Read buffer per connection: heads must fit, bodies stream through it.
pub(super) const READ_BUFFER: usize = 16 * 1024;

/// Everything the connections of one thread share (single-threaded: `Cell`/`RefCell`).
pub(crate) struct ThreadCtx {
    pub stats: RefCell<ThreadStats>,
    pub connector: Connector,
    pub request: Arc<[u8]>,
    pub head_request: bool,
    pub keep_alive: bool,
    pub timeout: Duration,
    /// End of a timed run.
    pub deadline: Option<Instant>,
    /// Requests left to send in `-n` mode.
    pub tickets: Cell<Option<u64>>,
    /// Attempts under way (used to count what is in flight at the deadline).
    pub in_flight: Cell<u64>,
    /// `-r` mode: time between two sends of one connection.
    pub interval: Option<Duration>,
    /// `--pipeline N`: the request N times, written in one go to fill the pipeline.
    pub batch: Arc<[u8]>,
}

impl ThreadCtx {
    pub(super) fn take_ticket(&self) -> bool {
        match self.tickets.get() {
            None => true,
            Some(0) => false,
            Some(n) => {
                self.tickets.set(Some(n - 1));
                true
            }
        }
    }

    /// Returns the ticket of a request that will be sent again (see [`take_ticket`]).
    ///
    /// [`take_ticket`]: ThreadCtx::take_ticket
    pub(super) fn give_back_ticket(&self) {
        if let Some(n) = self.tickets.get() {
            self.tickets.set(Some(n + 1));
        }
    }

    pub(super) fn past_deadline(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }
}

/// How new connections are made.
pub(crate) struct Connector {
    pub addr: SocketAddr,
    pub tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    /// Spare source addresses (loopback targets), used once the ephemeral ports of the default
    /// source run out under connection churn.
    pub sources: Vec<IpAddr>,
    pub next_source: Cell<usize>,
    /// Whether to rotate through `sources` (switched on at the first EADDRNOTAVAIL).
    pub spread: Cell<bool>,
    /// Set TCP_NODELAY. Needed with keep-alive, TLS (handshake and request are separate writes)
    /// and requests larger than a segment; for one small plain request per connection, written
    /// in one go, Nagle's algorithm never delays anything and the setsockopt is a syscall per
    /// request.
    pub nodelay: bool,
    /// `--unix-socket`: dial this path instead of `addr` (plain HTTP only).
    pub unix_socket: Option<std::path::PathBuf>,
}

impl Connector {
    pub(super) async fn connect(&self) -> io::Result<Stream> {
        Ok(self.connect_sending(&[]).await?.0)
    }

    /// Connects and, over plain TCP, writes `first` (the request) in the same breath: the send
    /// goes out right after the non-blocking `connect`, without waiting for the socket to
    /// become writable. On loopback the kernel has finished the handshake before `connect`
    /// returns, so the send succeeds and the client saves an epoll round and the `SO_ERROR`
    /// check per connection (what a keep-alive-off run pays besides the kernel's own work).
    /// Where the handshake is still under way (a real network) the send finds the socket not
    /// yet connected (`EAGAIN`), and the connect is awaited as usual. Returns the stream, how
    /// many bytes of `first` went out, and when the connection was up (just before the send).
    pub(super) async fn connect_sending(
        &self,
        first: &[u8],
    ) -> io::Result<(Stream, usize, Instant)> {
        #[cfg(unix)]
        if let Some(path) = &self.unix_socket {
            let s = tokio::net::UnixStream::connect(path).await?;
            return Ok((Stream::Unix(s), 0, Instant::now()));
        }
        let first = if self.tls.is_some() { &[][..] } else { first };
        let (tcp, sent, up) = match self.connect_tcp(first).await {
            // Out of ephemeral ports for this source address: from now on, rotate through the
            // spare loopback sources (two more syscalls per connection, so only when needed).
            Err(e)
                if e.kind() == io::ErrorKind::AddrNotAvailable
                    && !self.sources.is_empty()
                    && !self.spread.get() =>
            {
                tracing::debug!("ephemeral ports exhausted, spreading source addresses");
                self.spread.set(true);
                self.connect_tcp(first).await?
            }
            r => r?,
        };
        match &self.tls {
            None => Ok((Stream::Plain(tcp), sent, up)),
            Some((connector, name)) => {
                let tls = connector.connect(name.clone(), tcp).await?;
                Ok((Stream::Tls(Box::new(tls)), 0, Instant::now()))
            }
        }
    }

    async fn connect_tcp(&self, first: &[u8]) -> io::Result<(TcpStream, usize, Instant)> {
        let domain = if self.addr.is_ipv4() {
            socket2::Domain::IPV4
        } else {
            socket2::Domain::IPV6
        };
        let socket = socket2::Socket::new(
            domain,
            socket2::Type::STREAM.nonblocking().cloexec(),
            Some(socket2::Protocol::TCP),
        )?;
        if self.spread.get() {
            let i = self.next_source.get();
            self.next_source.set((i + 1) % self.sources.len());
            #[cfg(unix)]
            {
                use std::os::fd::AsRawFd;
                sys::bind_address_no_port(socket.as_raw_fd())?;
            }
            socket.bind(&SocketAddr::new(self.sources[i], 0).into())?;
        }
        if self.nodelay {
            socket.set_tcp_nodelay(true)?;
        }
        match socket.connect(&self.addr.into()) {
            Ok(()) => {}
            Err(e) if sys::connect_in_progress(&e) => {}
            Err(e) => return Err(e),
        }
        let mut up = Instant::now();
        // A socket still in SYN_SENT refuses the send with EAGAIN; a refused connect reports
        // its error here (ECONNREFUSED), as the awaited connect would.
        let sent = match first {
            [] => 0,
            _ => match socket.send(first) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => return Err(e),
            },
        };
        let tcp = TcpStream::from_std(std::net::TcpStream::from(socket))?;
        if sent == 0 {
            tcp.writable().await?;
            if let Some(e) = tcp.take_error()? {
                return Err(e);
            }
            up = Instant::now();
        }
        Ok((tcp, sent, up))
    }
}

/// Source addresses for a loopback IPv4 target: 127.1.<thread>.1 ..= 127.1.<thread>.64.
pub(crate) fn loopback_sources(target: SocketAddr, thread: usize) -> Vec<IpAddr> {
    match target.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => (1..=64)
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 1, (thread % 256) as u8, i)))
            .collect(),
        _ => Vec::new(),
    }
}

/// A plain or TLS connection.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A per-connection timeout that is cheap per request: the timer is only re-armed when it fires
/// early (at most once per timeout period), never per request, and once registered it is only
/// checked (`is_elapsed`, an atomic load) rather than polled on every wake-up.
pub(super) struct LazyTimer {
    sleep: Pin<Box<Sleep>>,
    /// The sleep is registered with the timer driver for this task's waker.
    registered: bool,
}

impl LazyTimer {
    pub(super) fn new(first_deadline: Instant) -> Self {
        LazyTimer {
            sleep: Box::pin(tokio::time::sleep_until(first_deadline.into())),
            registered: false,
        }
    }

    /// Runs `fut` until it finishes (`Some`) or `deadline` passes (`None`). Deadlines given to one
    /// timer must not decrease, and the timer must stay within one task.
    pub(super) async fn run<F: Future>(&mut self, deadline: Instant, fut: F) -> Option<F::Output> {
        let mut fut = pin!(fut);
        poll_fn(|cx| {
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            if self.registered && !self.sleep.is_elapsed() {
                return Poll::Pending;
            }
            while self.sleep.as_mut().poll(cx).is_ready() {
                if Instant::now() >= deadline {
                    return Poll::Ready(None);
                }
                self.sleep.as_mut().reset(deadline.into());
            }
            self.registered = true;
            Poll::Pending
        })
        .await
    }
}

/// Writes the request and reads one complete response (body bytes are skipped, not copied).
/// `sent` bytes of the request already went out with the connect.
async fn exchange(
    stream: &mut Stream,
    request: &[u8],
    sent: usize,
    buf: &mut [u8],
    parser: &mut ResponseParser,
    bytes_read: &mut u64,
) -> Result<Response, ErrorClass> {
    if sent < request.len() && stream.write_all(&request[sent..]).await.is_err() {
        return Err(ErrorClass::Write);
    }
    if let Stream::Tls(_) = stream
        && stream.flush().await.is_err()
    {
        return Err(ErrorClass::Write);
    }
    parser.reset();
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            return Err(ErrorClass::Parse); // head larger than the buffer
        }
        let n = match stream.read(&mut buf[filled..]).await {
            Ok(n) => n,
            // TLS peers often close without close_notify: an end of stream like any other.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(ErrorClass::of_io_error(&e)),
        };
        if n == 0 {
            return parser.finish().map_err(|_| ErrorClass::PeerClosed);
        }
        *bytes_read += n as u64;
        let end = filled + n;
        match parser.parse(&buf[..end]) {
            Ok(Progress::Complete { response, .. }) => return Ok(response),
            Ok(Progress::Partial { consumed }) => {
                buf.copy_within(consumed..end, 0);
                filled = end - consumed;
            }
            Err(_) => return Err(ErrorClass::Parse),
        }
    }
}

/// Open-loop schedule (`-r`, one slot every `interval`): waits for the next slot and returns it.
/// If the slot passed more than a timer tick ago, the sender was busy (the server is slower than
/// the rate): the send leaves now, counted late, and its corrected latency still runs from the
/// slot. Without a rate: `None` at once.
pub(super) async fn wait_for_slot(
    ctx: &ThreadCtx,
    interval: Option<Duration>,
    next_send: &mut Instant,
) -> Option<Instant> {
    let interval = interval?;
    let slot = *next_send;
    *next_send += interval;
    let now = Instant::now();
    if now < slot {
        // tokio's timer fires on the first 1 ms tick at or after its deadline, so aim one tick
        // early: sends leave within a tick of their slot, rarely after it (an early send is
        // measured from when it left).
        if let Some(wake) = slot.checked_sub(TIMER_TICK).filter(|w| *w > now) {
            tokio::time::sleep_until(wake.into()).await;
        }
    } else if now > slot + TIMER_TICK {
        ctx.stats.borrow_mut().late_send(slot);
    }
    Some(slot)
}

/// Decrements the in-flight count when an attempt ends (or its task is dropped at the deadline,
/// in which case the coordinator has already read the count).
pub(super) struct InFlight<'a>(&'a Cell<u64>);

impl<'a> InFlight<'a> {
    pub(super) fn start(c: &'a Cell<u64>) -> Self {
        c.set(c.get() + 1);
        InFlight(c)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// The connection task. `first_send` is this connection's first scheduled send (rate mode).
pub(crate) async fn connection(ctx: std::rc::Rc<ThreadCtx>, first_send: Instant) {
    let mut buf = vec![0u8; READ_BUFFER];
    let mut parser = ResponseParser::new(ctx.head_request);
    let mut stream: Option<Stream> = None;
    let mut timer = LazyTimer::new(Instant::now() + ctx.timeout);
    let mut next_send = first_send;
    loop {
        if !ctx.take_ticket() {
            return;
        }
        let intended = wait_for_slot(&ctx, ctx.interval, &mut next_send).await;
        let start = Instant::now();
        if ctx.past_deadline(start) {
            return;
        }
        let _in_flight = InFlight::start(&ctx.in_flight);
        let deadline = start + ctx.timeout;
        let recorded_start = intended.unwrap_or(start);

        let mut sent = start;
        let mut sent_bytes = 0;
        let s = match stream.as_mut() {
            Some(s) => s,
            None => match timer
                .run(deadline, ctx.connector.connect_sending(&ctx.request))
                .await
            {
                Some(Ok((s, n, up))) => {
                    // Latency counts from the send; connect time is recorded on its own.
                    sent = up;
                    sent_bytes = n;
                    ctx.stats.borrow_mut().connected(start, sent);
                    stream.insert(s)
                }
                Some(Err(_)) | None => {
                    // A connect that times out is a connect error too.
                    ctx.stats.borrow_mut().error(
                        recorded_start,
                        Instant::now(),
                        ErrorClass::Connect,
                        0,
                        0,
                    );
                    continue;
                }
            },
        };
        let mut bytes_read = 0;
        let outcome = timer
            .run(
                deadline,
                exchange(
                    s,
                    &ctx.request,
                    sent_bytes,
                    &mut buf,
                    &mut parser,
                    &mut bytes_read,
                ),
            )
            .await;
        let done = Instant::now();
        let written = ctx.request.len() as u64;
        let mut stats = ctx.stats.borrow_mut();
        match outcome.unwrap_or(Err(ErrorClass::Timeout)) {
            Ok(r) => {
                stats.response(sent, intended, done, r.status, bytes_read, written);
                if !r.keep_alive || !ctx.keep_alive {
                    stream = None;
                }
            }
            Err(class) => {
                stats.error(recorded_start, done, class, bytes_read, written);
                stream = None;
            }
        }
    }
}
