//! Timeouts for handlers: a per-operation idle timeout inside [`Connection`](crate::Connection)
//! and [`TimeoutExt`] for whole operations (read a request head within 10 s, ...).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep, Timeout};

/// Adds `.with_timeout(d)` to every future: it fails with
/// [`tokio::time::error::Elapsed`] when `d` passes first. Use it to bound a whole exchange
/// (e.g. "the request head must arrive within 10 s", a slowloris defence that per-read
/// timeouts alone do not give).
///
/// # Example
///
/// ```no_run
/// use std::time::Duration;
/// use tcpserver::TimeoutExt;
/// use tokio::io::AsyncReadExt;
///
/// async fn handler(mut conn: tcpserver::Connection) {
///     let mut buf = [0u8; 512];
///     match conn.read(&mut buf).with_timeout(Duration::from_secs(10)).await {
///         Ok(Ok(n)) => { /* got n bytes */ let _ = n; }
///         Ok(Err(_io_error)) => {}
///         Err(_elapsed) => { /* too slow: drop the connection */ }
///     }
/// }
/// ```
pub trait TimeoutExt: Future + Sized {
    /// Wraps the future in [`tokio::time::timeout`].
    ///
    /// ```no_run
    /// # async fn f() {
    /// use tcpserver::TimeoutExt;
    /// let r = async { 42 }.with_timeout(std::time::Duration::from_secs(1)).await;
    /// assert_eq!(r.ok(), Some(42));
    /// # }
    /// ```
    fn with_timeout(self, timeout: Duration) -> Timeout<Self> {
        tokio::time::timeout(timeout, self)
    }
}

impl<F: Future> TimeoutExt for F {}

/// An idle timeout for one direction of a connection: a read (or write) that stays pending for
/// longer than `limit` fails with `TimedOut`. The timer is allocated once and re-armed in place.
pub(crate) struct IdleTimer {
    limit: Option<Duration>,
    sleep: Pin<Box<Sleep>>,
    armed: bool,
}

impl IdleTimer {
    pub(crate) fn new(limit: Option<Duration>) -> IdleTimer {
        IdleTimer {
            limit,
            sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
            armed: false,
        }
    }

    pub(crate) fn set(&mut self, limit: Option<Duration>) {
        self.limit = limit;
        self.armed = false;
    }

    pub(crate) fn limit(&self) -> Option<Duration> {
        self.limit
    }

    /// Passes a ready result through; on `Pending`, arms the timer and fails once it fires.
    pub(crate) fn check<T>(
        &mut self,
        cx: &mut Context<'_>,
        res: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match res {
            Poll::Ready(r) => {
                self.armed = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let Some(limit) = self.limit else {
                    return Poll::Pending;
                };
                if !self.armed {
                    self.sleep.as_mut().reset(Instant::now() + limit);
                    self.armed = true;
                }
                match self.sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        self.armed = false;
                        Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "connection idle timeout",
                        )))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}
