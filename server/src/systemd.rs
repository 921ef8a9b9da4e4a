//! systemd socket activation (`sd_listen_fds(3)`): the listening sockets a service manager
//! passed as file descriptors 3, 4, ... with `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES`.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::Error;

/// The first passed descriptor (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// Set once the descriptors were taken: owning them twice would close them twice.
static TAKEN: AtomicBool = AtomicBool::new(false);

fn invalid(msg: String) -> Error {
    Error::Inherited {
        source: io::Error::new(io::ErrorKind::InvalidInput, msg),
    }
}

/// Takes the sockets passed by systemd socket activation, with their names
/// (`FileDescriptorName=` in the `.socket` unit; `"unknown"` when unnamed), in order. Returns
/// an empty list when the process was not socket-activated (`LISTEN_PID` is not this process).
/// The descriptors are marked close-on-exec. Adopt them with
/// [`ServerBuilder::listen_inherited`](crate::ServerBuilder::listen_inherited), or all at
/// once with [`ServerBuilder::listen_systemd`](crate::ServerBuilder::listen_systemd).
///
/// # Errors
///
/// [`Error::Inherited`] when `LISTEN_FDS` is malformed or the sockets were already taken.
///
/// ```no_run
/// let mut builder = tcpserver::ServerBuilder::new();
/// for (name, fd) in tcpserver::systemd_listeners()? {
///     if name == "web" {
///         builder = builder.listen_inherited(fd);
///     }
/// }
/// let server = builder.build()?;
/// # let _ = server;
/// # Ok::<(), tcpserver::Error>(())
/// ```
pub fn systemd_listeners() -> Result<Vec<(String, OwnedFd)>, Error> {
    let pid = std::env::var("LISTEN_PID").ok();
    if pid.as_deref().and_then(|p| p.trim().parse::<u32>().ok()) != Some(std::process::id()) {
        return Ok(Vec::new());
    }
    let count: RawFd = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .filter(|n| (0..=1024).contains(n))
        .ok_or_else(|| invalid("LISTEN_FDS is not a number of descriptors".into()))?;
    if TAKEN.swap(true, Ordering::AcqRel) {
        return Err(invalid("the systemd sockets were already taken".into()));
    }
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let mut names = names.split(':').filter(|n| !n.is_empty());
    let mut out = Vec::with_capacity(count as usize);
    for fd in FIRST_FD..FIRST_FD + count {
        crate::sys::set_cloexec(fd).map_err(|source| Error::Inherited { source })?;
        // SAFETY: systemd passed this descriptor to us for this purpose, and `TAKEN` makes sure
        // it gets exactly one owner.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        out.push((names.next().unwrap_or("unknown").to_string(), owned));
    }
    Ok(out)
}
