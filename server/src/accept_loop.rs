//! The accept loop shared by both runtime models: connection limit, `max_accept` tickets,
//! back-off on temporary errors, and the drain of the kernel's accept queue on shutdown.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::handle::{ConnGuard, ServerHandle, Shared};

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
    #[cfg(unix)]
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

/// Gives back what was reserved for an accept that did not happen.
fn release(shared: &Shared, permit: bool) {
    shared.return_ticket();
    if permit && let Some(limit) = &shared.limit {
        limit.add_permits(1);
    }
}

/// Accepts until `stop` is cancelled (then drains the queue, unless halted) or until
/// `max_accept` connections were accepted, handing each connection to `on_conn`.
pub(crate) async fn accept_loop<F>(
    listener: &TcpListener,
    handle: &ServerHandle,
    stop: &CancellationToken,
    set_nodelay: bool,
    mut on_conn: F,
) -> Result<(), Error>
where
    F: FnMut(TcpStream, SocketAddr, ConnGuard),
{
    let shared = &*handle.shared;
    let cancelled = stop.cancelled();
    tokio::pin!(cancelled);
    let mut backoff = Duration::ZERO;
    loop {
        if !shared.take_ticket() {
            // max_accept reached: the last accepted connection started the shutdown.
            return Ok(());
        }
        let permit = match &shared.limit {
            None => false,
            Some(limit) => {
                tokio::select! {
                    biased;
                    _ = &mut cancelled => {
                        release(shared, false);
                        break;
                    }
                    p = limit.acquire() => match p {
                        Ok(p) => {
                            p.forget();
                            true
                        }
                        Err(_) => {
                            release(shared, false);
                            break;
                        }
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
            Some(Ok((tcp, peer))) => {
                backoff = Duration::ZERO;
                if set_nodelay {
                    let _ = tcp.set_nodelay(true);
                }
                on_conn(tcp, peer, ConnGuard::new(handle.clone(), permit));
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
        drain(listener, handle, set_nodelay, &mut on_conn);
    }
    Ok(())
}

/// Accepts what the kernel already queued (until `EAGAIN`), so that closing this listener does
/// not reset connections that completed their handshake. Non-blocking `accept` on the socket
/// itself, because tokio's readiness may not have seen the last arrivals yet.
fn drain<F>(listener: &TcpListener, handle: &ServerHandle, set_nodelay: bool, on_conn: &mut F)
where
    F: FnMut(TcpStream, SocketAddr, ConnGuard),
{
    let shared = &*handle.shared;
    let socket = socket2::SockRef::from(listener);
    let mut drained = 0u64;
    loop {
        if !shared.take_ticket() {
            break;
        }
        let permit = match &shared.limit {
            None => false,
            Some(limit) => match limit.try_acquire() {
                Ok(p) => {
                    p.forget();
                    true
                }
                Err(_) => {
                    release(shared, false);
                    tracing::warn!("connection limit reached while draining the accept queue");
                    break;
                }
            },
        };
        let accepted = socket.accept().and_then(|(s, addr)| {
            s.set_nonblocking(true)?;
            let peer = addr
                .as_socket()
                .ok_or_else(|| io::Error::other("accepted a non-IP socket"))?;
            if set_nodelay {
                s.set_tcp_nodelay(true)?;
            }
            Ok((TcpStream::from_std(s.into())?, peer))
        });
        match accepted {
            Ok((tcp, peer)) => {
                drained += 1;
                on_conn(tcp, peer, ConnGuard::new(handle.clone(), permit));
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
