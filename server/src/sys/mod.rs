//! Operating-system specific code, chosen once with `cfg`: Linux gets the real socket options,
//! zero-copy system calls and CPU affinity, other platforms a fallback that reports
//! [`Error::Unsupported`] (options), copies through user space (zero-copy) or reports
//! `io::ErrorKind::Unsupported` (affinity). The portable [`CpuSet`] (`cpu_set.rs`) is public.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;

#[cfg(not(target_os = "linux"))]
mod fallback;
#[cfg(not(target_os = "linux"))]
pub(crate) use fallback::*;

mod cpu_set;
pub use cpu_set::{CpuSet, CpuSetError};

use socket2::Socket;

use crate::Error;

/// Sets `SO_REUSEPORT` (Unix only).
pub(crate) fn set_reuse_port(socket: &Socket) -> Result<(), Error> {
    #[cfg(unix)]
    {
        socket
            .set_reuse_port(true)
            .map_err(|source| Error::SocketOption {
                option: "SO_REUSEPORT",
                source,
            })
    }
    #[cfg(not(unix))]
    {
        let _ = socket;
        Err(Error::Unsupported("SO_REUSEPORT"))
    }
}

/// Whether a listening socket has connections waiting in its accept queue (`poll(2)`, no wait).
pub(crate) fn has_queued(listener: &impl std::os::fd::AsFd) -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: listener.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, borrowed for the call; timeout 0 never blocks.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & libc::POLLIN != 0
}

/// Sets `FD_CLOEXEC` on a descriptor we took over, so that our own children do not inherit it.
pub(crate) fn set_cloexec(fd: std::os::fd::RawFd) -> std::io::Result<()> {
    // SAFETY: fcntl on a descriptor number; an invalid one fails with EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Clears `FD_CLOEXEC`, so that the program about to be executed inherits the descriptor.
/// Only `fcntl(2)`: safe to call between `fork` and `exec` (async-signal-safe, no allocation).
pub(crate) fn clear_cloexec(fd: std::os::fd::RawFd) -> std::io::Result<()> {
    // SAFETY: fcntl on a descriptor number; an invalid one fails with EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
