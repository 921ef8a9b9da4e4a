//! Linux: `SO_REUSEPORT`, `TCP_FASTOPEN`, `TCP_DEFER_ACCEPT`, CPU affinity, `sendfile` and `splice`.

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
    set_thread_affinity(&[cpu])
}

/// Restricts the calling thread (and the threads it creates afterwards) to `cpus`. Builds the
/// mask on the stack and makes one system call: no allocation, async-signal-safe.
pub(crate) fn set_thread_affinity(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data (a bit array); all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "CPU index out of range",
            ));
        }
        // SAFETY: CPU_SET indexes the bit array without a bounds check; `cpu` < CPU_SETSIZE, the
        // number of bits in cpu_set_t, was checked just above.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: sched_setaffinity reads `size_of::<cpu_set_t>()` bytes from `&set`, a live
    // cpu_set_t of exactly that size; pid 0 means the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The CPUs the calling thread may run on, ascending (`sched_getaffinity`).
pub(crate) fn thread_affinity() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data (a bit array); all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity writes at most `size_of::<cpu_set_t>()` bytes into `&mut set`, a
    // live cpu_set_t of exactly that size; pid 0 means the calling thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: CPU_ISSET indexes the bit array without a bounds check; `cpu` < CPU_SETSIZE.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
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
