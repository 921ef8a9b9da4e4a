//! The accept loop shared by both runtime models: connection limit, `max_accept` tickets,
//! back-off on temporary errors, and the drain of the kernel's accept queue on shutdown.

use std::io;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::handle::{ConnGuard, ServerHandle, Shared};
use crate::listener::Listener;
use crate::stream::Stream;
use crate::{Error, ListenOptions, PeerAddr};

/// First back-off after a temporary accept error; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What to do about an accept error.
enum AcceptError {
    /// Out of descriptors or memory: wait, then try again.
    Temporary,
    /// This one connection failed before we got it: accept the next.
    Skip,
    /// The listener itself is broken.
    Fatal,
}

fn classify(e: &io::Error) -> AcceptError {
    if let Some(code) = e.raw_os_error() {
        return match code {
            libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM => AcceptError::Temporary,
            libc::EBADF | libc::EINVAL | libc::ENOTSOCK | libc::EFAULT => AcceptError::Fatal,
            // ECONNABORTED, ECONNRESET, EPROTO, EPERM (firewall), and the network errors that
            // Linux reports on accept for the new socket (see accept(2)).
            _ => AcceptError::Skip,
        };
    }
    match e.kind() {
        io::ErrorKind::OutOfMemory => AcceptError::Temporary,
        io::ErrorKind::InvalidInput => AcceptError::Fatal,
        _ => AcceptError::Skip,
    }
}

/// Gives back the connection slot reserved for an accept that did not happen.
fn release(shared: &Shared, permit: bool) {
    if permit && let Some(limit) = &shared.limit {
        limit.add_permits(1);
    }
}

/// Takes the `max_accept` ticket of a connection just accepted. Tickets are taken after the
/// accept, not reserved before it: a loop waiting in `accept` holds none, so no loop runs out
/// while another's reservation sits unused, and no listener closes (resetting the clients the
/// kernel queued on it) before `max_accept` connections were really accepted. Without a
/// ticket the connection is closed, as it would have been by the closing listener: the
/// connection that took the last one started the shutdown.
fn admit(shared: &Shared, stream: Stream, permit: bool) -> Option<Stream> {
    if shared.take_ticket() {
        return Some(stream);
    }
    drop(stream);
    release(shared, permit);
    None
}

/// Sets the per-connection socket options; a socket that refuses them is dropped.
fn tune(stream: &Stream, options: &ListenOptions) -> io::Result<()> {
    match stream {
        Stream::Tcp(s) if options.tunes_accepted() => options.tune(socket2::SockRef::from(s)),
        _ => Ok(()),
    }
}

/// Accepts until `stop` is cancelled (then drains the queue, unless halted) or until
/// `max_accept` connections were accepted, handing each connection to `on_conn`.
pub(crate) async fn accept_loop<F>(
    listener: &Listener,
    handle: &ServerHandle,
    stop: &CancellationToken,
    options: &ListenOptions,
    mut on_conn: F,
) -> Result<(), Error>
where
    F: FnMut(Stream, PeerAddr, ConnGuard),
{
    let shared = &*handle.shared;
    // When this loop ends (stop, `max_accept`, a fatal error), the copies kept for a hand-over
    // go too: a listening socket must not stay open with nobody accepting on it (its clients
    // would wait for nothing; another per-core worker's socket of the reuseport group takes
    // them once this one is closed).
    let _copies = DropHandOverCopies(shared);
    let cancelled = stop.cancelled();
    tokio::pin!(cancelled);
    let mut backoff = Duration::ZERO;
    loop {
        if shared.max_accept_reached() {
            // The last accepted connection started the shutdown.
            return Ok(());
        }
        let permit = match &shared.limit {
            None => false,
            Some(limit) => {
                tokio::select! {
                    biased;
                    _ = &mut cancelled => break,
                    p = limit.acquire() => match p {
                        Ok(p) => {
                            p.forget();
                            true
                        }
                        Err(_) => break,
                    },
                }
            }
        };
        // Accept first: under load the listener is ready and the stop signal is not polled.
        // (`accept()`, not `poll_accept`: the latter wakes only the last of several loops.)
        let res = tokio::select! {
            biased;
            r = listener.accept() => Some(r),
            _ = &mut cancelled => None,
        };
        match res {
            None => {
                release(shared, permit);
                break;
            }
            Some(Ok((stream, peer))) => {
                backoff = Duration::ZERO;
                let Some(stream) = admit(shared, stream, permit) else {
                    return Ok(());
                };
                let guard = ConnGuard::new(handle.clone(), permit);
                match tune(&stream, options) {
                    Ok(()) => on_conn(stream, peer, guard),
                    Err(e) => tracing::debug!(%peer, error = %e, "socket option refused"),
                }
            }
            Some(Err(e)) => {
                release(shared, permit);
                match classify(&e) {
                    AcceptError::Temporary => {
                        backoff = (backoff * 2).clamp(MIN_BACKOFF, MAX_BACKOFF);
                        tracing::warn!(error = %e, ?backoff, "temporary accept error, backing off");
                        tokio::select! {
                            biased;
                            _ = &mut cancelled => break,
                            _ = tokio::time::sleep(backoff) => {}
                        }
                    }
                    AcceptError::Skip => {
                        tracing::debug!(error = %e, "accept failed for one connection, skipped");
                    }
                    AcceptError::Fatal => {
                        tracing::error!(error = %e, "accept failed, stopping the server");
                        shared.begin_stop();
                        return Err(Error::Accept(e));
                    }
                }
            }
        }
    }
    if !shared.is_halted() {
        drain(listener, handle, options, &mut on_conn).await;
    }
    Ok(())
}

struct DropHandOverCopies<'a>(&'a Shared);

impl Drop for DropHandOverCopies<'_> {
    fn drop(&mut self) {
        self.0.drop_hand_over_copies();
    }
}

/// Accepts what the kernel already queued (until `EAGAIN`), so that closing this listener does
/// not reset connections that completed their handshake. At the connection limit it waits for
/// a slot to free, until the server is halted or the shutdown deadline passes.
async fn drain<F>(
    listener: &Listener,
    handle: &ServerHandle,
    options: &ListenOptions,
    on_conn: &mut F,
) where
    F: FnMut(Stream, PeerAddr, ConnGuard),
{
    let shared = &*handle.shared;
    let given_up = shared.halted_or_past_deadline();
    tokio::pin!(given_up);
    let mut drained = 0u64;
    loop {
        if shared.max_accept_reached() {
            break;
        }
        let permit = match &shared.limit {
            None => false,
            Some(limit) => {
                let acquired = match limit.try_acquire() {
                    Ok(p) => Some(p),
                    Err(_) if !crate::sys::has_queued(listener) => None,
                    Err(_) => {
                        tracing::debug!("connection limit reached while draining, waiting");
                        tokio::select! {
                            biased;
                            _ = &mut given_up => None,
                            p = limit.acquire() => p.ok(),
                        }
                    }
                };
                match acquired {
                    Some(p) => {
                        p.forget();
                        true
                    }
                    None => break,
                }
            }
        };
        match listener.accept_now() {
            Ok((stream, peer)) => {
                let Some(stream) = admit(shared, stream, permit) else {
                    break;
                };
                drained += 1;
                let guard = ConnGuard::new(handle.clone(), permit);
                match tune(&stream, options) {
                    Ok(()) => on_conn(stream, peer, guard),
                    Err(e) => tracing::debug!(%peer, error = %e, "socket option refused"),
                }
            }
            Err(e) => {
                release(shared, permit);
                if e.kind() == io::ErrorKind::WouldBlock {
                    break;
                }
                match classify(&e) {
                    AcceptError::Skip => continue,
                    _ => {
                        tracing::debug!(error = %e, "draining the accept queue stopped");
                        break;
                    }
                }
            }
        }
    }
    if drained > 0 {
        tracing::debug!(drained, "accepted queued connections during shutdown");
    }
}
