//! Portable fallback: Linux-only socket options report [`Error::Unsupported`]; zero-copy copies
//! through user space.

use std::io;

use socket2::Socket;

use crate::Error;

/// Whether accepted sockets inherit `TCP_NODELAY` from the listener; not relied upon here.
pub(crate) const NODELAY_INHERITED: bool = false;

pub(crate) fn set_fast_open(_socket: &Socket, _queue_len: u32) -> Result<(), Error> {
    Err(Error::Unsupported("TCP_FASTOPEN"))
}

pub(crate) fn set_defer_accept(_socket: &Socket, _seconds: u32) -> Result<(), Error> {
    Err(Error::Unsupported("TCP_DEFER_ACCEPT"))
}

pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    set_thread_affinity(&[cpu])
}

pub(crate) fn set_thread_affinity(_cpus: &[usize]) -> io::Result<()> {
    Err(affinity_unsupported())
}

pub(crate) fn thread_affinity() -> io::Result<Vec<usize>> {
    Err(affinity_unsupported())
}

fn affinity_unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "CPU pinning is supported on Linux only",
    )
}

/// `TCP_USER_TIMEOUT` is Linux-only.
pub(crate) const HAS_USER_TIMEOUT: bool = false;

pub(crate) fn set_user_timeout(
    _socket: &socket2::SockRef<'_>,
    _timeout: std::time::Duration,
) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "TCP_USER_TIMEOUT",
    ))
}
