//! The HTTP/2 client (`--http2`, `--h2c`): one task per connection does the connect (TCP, then TLS
//! with ALPN `h2`, or prior knowledge for h2c) and the HTTP/2 handshake on the `h2` crate; then
//! `--streams N` stream tasks share the connection, each sending one request at a time (closed
//! loop, or on its own `-r` schedule with coordinated-omission correction). A stream reset
//! (RST_STREAM) costs one request; GOAWAY, I/O and protocol errors end the connection, the
//! request of every stream that was waiting counts as one error, and the connection is redone.

use std::cell::Cell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::conn::{InFlight, LazyTimer, Stream, ThreadCtx, wait_for_slot};
use super::stats::ErrorClass;

/// Stream flow-control window: large enough that a stream never waits for a WINDOW_UPDATE on
/// loopback (h2load's default is 1 GiB - 1 per stream, the protocol's maximum is 2^31 - 1).
const STREAM_WINDOW: u32 = 16 << 20;
/// Connection flow-control window.
const CONNECTION_WINDOW: u32 = 256 << 20;

/// The request, prepared once per run; the `h2` crate takes it by value per stream.
#[derive(Debug)]
pub(crate) struct H2Request {
    pub method: http::Method,
    pub uri: http::Uri,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl H2Request {
    fn request(&self) -> http::Request<()> {
        let mut r = http::Request::new(());
        *r.method_mut() = self.method.clone();
        *r.uri_mut() = self.uri.clone();
        *r.headers_mut() = self.headers.clone();
        r
    }
}

/// Builds the HTTP/2 request from the target and the user's headers (hop-by-hop headers, which
/// HTTP/2 forbids, are dropped; `Host` becomes `:authority`).
pub(crate) fn build_request(
    tls: bool,
    authority: &str,
    path: &str,
    method: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<H2Request, String> {
    let mut authority = authority.to_string();
    let mut map = http::HeaderMap::new();
    for (k, v) in headers {
        let lower = k.to_ascii_lowercase();
        match lower.as_str() {
            "host" => authority = v.trim().to_string(),
            "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade"
            | "te" => {}
            _ => {
                let name = http::HeaderName::from_bytes(lower.as_bytes())
                    .map_err(|e| format!("invalid header name {k:?}: {e}"))?;
                let value = http::HeaderValue::from_str(v.trim())
                    .map_err(|e| format!("invalid header value for {k:?}: {e}"))?;
                map.append(name, value);
            }
        }
    }
    if !map.contains_key(http::header::USER_AGENT) {
        map.insert(
            http::header::USER_AGENT,
            http::HeaderValue::from_static("loadgen"),
        );
    }
    let needs_length = !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH");
    if needs_length && !map.contains_key(http::header::CONTENT_LENGTH) {
        map.insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from(body.len()),
        );
    }
    let uri = http::Uri::builder()
        .scheme(if tls { "https" } else { "http" })
        .authority(authority.as_str())
        .path_and_query(path)
        .build()
        .map_err(|e| format!("invalid request URI: {e}"))?;
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("invalid method {method:?}"))?;
    Ok(H2Request {
        method,
        uri,
        headers: map,
        body: Bytes::copy_from_slice(body),
    })
}

/// Bytes read and written on one connection and not yet attributed to a request.
#[derive(Default)]
struct Traffic {
    read: Cell<u64>,
    written: Cell<u64>,
}

/// The connection's stream, counting its bytes.
struct Counted {
    inner: Stream,
    traffic: Rc<Traffic>,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        this.traffic.read.set(this.traffic.read.get() + n);
        r
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.traffic
                .written
                .set(this.traffic.written.get() + n as u64);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// What ended a stream task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamEnd {
    /// No tickets left or past the deadline.
    Done,
    /// The connection failed: make a new one.
    ConnectionLost,
}

/// The error class of an `h2` error, and whether the connection is gone with it.
fn classify(e: &h2::Error) -> (ErrorClass, bool) {
    if e.is_go_away() {
        (ErrorClass::GoAway, true)
    } else if e.is_reset() {
        (ErrorClass::Reset, false)
    } else if let Some(io) = e.get_io() {
        let class = match io.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => ErrorClass::PeerClosed,
            _ => ErrorClass::Read,
        };
        (class, true)
    } else {
        (ErrorClass::Protocol, true)
    }
}

type SendRequest = h2::client::SendRequest<Bytes>;

/// The connection task. `first_send` is the connection's first slot in `-r` mode; its streams
/// take the slots `first_send + k * interval`, each then every `streams * interval`.
pub(crate) async fn connection(
    ctx: Rc<ThreadCtx>,
    first_send: Instant,
    streams: usize,
    request: Arc<H2Request>,
) {
    let mut builder = h2::client::Builder::new();
    builder
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .initial_max_send_streams(streams)
        .enable_push(false);
    let mut timer = LazyTimer::new(Instant::now() + ctx.timeout);
    let stream_interval = ctx.interval.map(|i| i * streams as u32);
    let mut next_first = first_send;
    loop {
        if ctx.tickets.get() == Some(0) || ctx.past_deadline(Instant::now()) {
            return;
        }
        let start = Instant::now();
        let traffic = Rc::new(Traffic::default());
        let handshake = async {
            let io = ctx.connector.connect().await.ok()?;
            if let Stream::Tls(tls) = &io
                && tls.get_ref().1.alpn_protocol() != Some(b"h2")
            {
                return None; // the server does not speak HTTP/2 over TLS
            }
            let io = Counted {
                inner: io,
                traffic: traffic.clone(),
            };
            builder.handshake::<_, Bytes>(io).await.ok()
        };
        let (send, driver) = match timer.run(start + ctx.timeout, handshake).await {
            Some(Some(pair)) => pair,
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
        ctx.stats.borrow_mut().connected(start, Instant::now());
        let driver = tokio::task::spawn_local(async move {
            let _ = driver.await;
        });
        let mut tasks = Vec::with_capacity(streams);
        for k in 0..streams {
            let first = next_first + ctx.interval.unwrap_or(Duration::ZERO) * k as u32;
            tasks.push(tokio::task::spawn_local(stream_loop(
                ctx.clone(),
                send.clone(),
                request.clone(),
                traffic.clone(),
                first,
                stream_interval,
            )));
        }
        drop(send);
        let mut lost = false;
        for t in tasks {
            lost |= t.await.is_ok_and(|end| end == StreamEnd::ConnectionLost);
        }
        driver.abort();
        if !lost {
            return;
        }
        // Slots keep their pace on the new connection.
        next_first = Instant::now().max(next_first);
    }
}

/// One stream: requests one after the other until the run or the connection ends.
async fn stream_loop(
    ctx: Rc<ThreadCtx>,
    mut send: SendRequest,
    request: Arc<H2Request>,
    traffic: Rc<Traffic>,
    first_send: Instant,
    interval: Option<Duration>,
) -> StreamEnd {
    let mut timer = LazyTimer::new(Instant::now() + ctx.timeout);
    let mut next_send = first_send;
    loop {
        if !ctx.take_ticket() {
            return StreamEnd::Done;
        }
        let intended = wait_for_slot(&ctx, interval, &mut next_send).await;
        let start = Instant::now();
        if ctx.past_deadline(start) {
            return StreamEnd::Done;
        }
        let _in_flight = InFlight::start(&ctx.in_flight);
        let outcome = timer
            .run(start + ctx.timeout, exchange(&mut send, &request))
            .await;
        let done = Instant::now();
        let read = traffic.read.take();
        let written = traffic.written.take();
        let mut stats = ctx.stats.borrow_mut();
        match outcome {
            // Dropping the response future resets the stream (RST_STREAM CANCEL).
            None => stats.error(
                intended.unwrap_or(start),
                done,
                ErrorClass::Timeout,
                read,
                written,
            ),
            Some(Ok(status)) => stats.response(start, intended, done, status, read, written),
            Some(Err(e)) => {
                let (class, lost) = classify(&e);
                stats.error(intended.unwrap_or(start), done, class, read, written);
                if lost {
                    return StreamEnd::ConnectionLost;
                }
            }
        }
        if ctx.past_deadline(done) {
            return StreamEnd::Done;
        }
    }
}

/// Sends the request on a new stream and reads the whole response, returning its status.
async fn exchange(send: &mut SendRequest, request: &H2Request) -> Result<u16, h2::Error> {
    poll_fn(|cx| send.poll_ready(cx)).await?;
    let end_of_stream = request.body.is_empty();
    let (response, mut body) = send.send_request(request.request(), end_of_stream)?;
    if !end_of_stream {
        body.send_data(request.body.clone(), true)?;
    }
    let response = response.await?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        body.flow_control().release_capacity(chunk.len())?;
    }
    Ok(status)
}
