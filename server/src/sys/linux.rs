//! Linux: `SO_REUSEPORT`, `TCP_FASTOPEN`, `TCP_DEFER_ACCEPT`, CPU pinning, `sendfile` and `splice`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use socket2::Socket;

use crate::Error;

/// Accepted sockets inherit `TCP_NODELAY` from the listener on Linux.
pub(crate) const NODELAY_INHERITED: bool = true;

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` lives for the call and its size is passed along.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub(crate) fn set_fast_open(socket: &Socket, queue_len: u32) -> Result<(), Error> {
    let qlen = libc::c_int::try_from(queue_len).unwrap_or(libc::c_int::MAX);
    setsockopt_int(
        socket.as_raw_fd(),
        libc::IPPROTO_TCP,
        libc::TCP_FASTOPEN,
        qlen,
    )
    .map_err(|source| Error::SocketOption {
        option: "TCP_FASTOPEN",
        source,
    })
}

pub(crate) fn set_defer_accept(socket: &Socket, seconds: u32) -> Result<(), Error> {
    let secs = libc::c_int::try_from(seconds).unwrap_or(libc::c_int::MAX);
    setsockopt_int(
        socket.as_raw_fd(),
        libc::IPPROTO_TCP,
        libc::TCP_DEFER_ACCEPT,
        secs,
    )
    .map_err(|source| Error::SocketOption {
        option: "TCP_DEFER_ACCEPT",
        source,
    })
}

/// Pins the calling thread to one CPU.
pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET checks nothing but we bound `cpu` first.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "CPU index out of range",
            ));
        }
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// One `sendfile(2)` call: at most `len` bytes from `file` at `offset` to the socket `out`.
pub(crate) fn sendfile(out: RawFd, file: RawFd, offset: &mut u64, len: usize) -> io::Result<usize> {
    let mut off = libc::off_t::try_from(*offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
    // SAFETY: both descriptors are borrowed for the call; `off` is a valid pointer.
    let n = unsafe { libc::sendfile(out, file, &mut off, len) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset = off as u64;
    Ok(n as usize)
}

/// A pipe used as the kernel buffer between two `splice(2)` calls.
pub(crate) struct Pipe {
    pub(crate) read: OwnedFd,
    pub(crate) write: OwnedFd,
}

impl Pipe {
    pub(crate) fn new() -> io::Result<Pipe> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Pipe { read, write })
    }
}

/// One non-blocking `splice(2)` call from `from` to `to`.
pub(crate) fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: plain system call on borrowed descriptors, no pointers passed.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Whether an error means "this kind of descriptor cannot do zero-copy": use read/write instead.
pub(crate) fn is_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::ESPIPE)
    )
}

/// `TCP_USER_TIMEOUT` can be set.
pub(crate) const HAS_USER_TIMEOUT: bool = true;

pub(crate) fn set_user_timeout(
    socket: &socket2::SockRef<'_>,
    timeout: std::time::Duration,
) -> io::Result<()> {
    socket.set_tcp_user_timeout(Some(timeout))
}
