//! Hand-over of the listening sockets to a new process, for a restart or an upgrade that refuses
//! no connection (the idea of Cloudflare's tableflip and shellflip): the running server starts
//! the new program with duplicates of its listening sockets (inherited across `fork`/`exec`,
//! their numbers in the environment variable `TCPSERVER_HANDOVER`, with the parent's pid and a
//! readiness socket). The new process adopts them
//! ([`ServerBuilder::adopt_handed_over`](crate::ServerBuilder::adopt_handed_over)) and reports
//! ready once it serves; only then does the old one stop accepting and drain gracefully. Both
//! processes hold the same kernel sockets meanwhile, so the accept queues are never closed: a
//! client is accepted by one process or the other. If the new process fails before it is
//! ready, the old one keeps serving.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::Error;
use crate::listener::{Bound, HandOverSocket};

/// The environment variable the new process finds its sockets in:
/// `1;<parent pid>;<ready fd>;<fd>:<flags>,<fd>:<flags>...` (flags: `p` PROXY protocol
/// listener, `u` the socket file goes with the socket, `-` none).
const ENV: &str = "TCPSERVER_HANDOVER";
/// The byte the new process sends when it serves.
const READY: u8 = b'R';

/// Set once the handed-over descriptors were taken: owning them twice would close them twice.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// What the previous process handed to this one.
pub(crate) struct Received {
    pub(crate) sockets: Vec<Bound>,
    /// Written to once this process serves.
    pub(crate) ready: OwnedFd,
}

fn malformed(msg: &str) -> Error {
    Error::Inherited {
        source: io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{ENV} is malformed: {msg}"),
        ),
    }
}

/// Takes a descriptor number from the environment as ours, close-on-exec.
fn own(fd: RawFd) -> Result<OwnedFd, Error> {
    crate::sys::set_cloexec(fd).map_err(|source| Error::Inherited { source })?;
    // SAFETY: the previous process passed this descriptor to us for this purpose (its pid was
    // checked to be our parent's), and `TAKEN` makes sure it gets exactly one owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The sockets handed over by the parent process, if it started this one with
/// [`hand_over`]. `None` when the variable is absent or names another parent (a process
/// further down that inherited the environment).
pub(crate) fn receive() -> Result<Option<Received>, Error> {
    let Some(value) = std::env::var_os(ENV) else {
        return Ok(None);
    };
    let value = value.to_str().ok_or_else(|| malformed("not UTF-8"))?;
    let mut fields = value.split(';');
    if fields.next() != Some("1") {
        return Err(malformed("unknown version"));
    }
    let ppid: u32 = fields
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| malformed("no parent pid"))?;
    if ppid != std::os::unix::process::parent_id() {
        return Ok(None);
    }
    let ready: RawFd = fields
        .next()
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| malformed("no readiness descriptor"))?;
    let mut passed = Vec::new();
    for item in fields
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
    {
        let (fd, flags) = item.split_once(':').ok_or_else(|| malformed(item))?;
        let fd: RawFd = fd.parse().map_err(|_| malformed(item))?;
        passed.push((fd, flags.contains('p'), flags.contains('u')));
    }
    if TAKEN.swap(true, Ordering::AcqRel) {
        return Err(malformed("the handed-over sockets were already taken"));
    }
    let ready = own(ready)?;
    let mut sockets = Vec::with_capacity(passed.len());
    for (fd, proxied, owns_file) in passed {
        sockets.push(Bound::handed_over(own(fd)?, proxied, owns_file)?);
    }
    if sockets.is_empty() {
        return Err(malformed("no socket"));
    }
    Ok(Some(Received { sockets, ready }))
}

/// Tells the previous process that this one serves now (it then stops accepting).
pub(crate) fn notify_ready(ready: OwnedFd) {
    use std::io::Write;
    let mut s = std::os::unix::net::UnixStream::from(ready);
    if let Err(e) = s.write_all(&[READY]) {
        tracing::warn!(error = %e, "cannot tell the previous process that we are ready");
    } else {
        tracing::info!("serving the handed-over listeners; the previous process stops accepting");
    }
}

/// Kills and reaps the new process unless the hand-over succeeded.
#[cfg(target_os = "linux")]
struct KillOnDrop(Option<std::process::Child>);

#[cfg(target_os = "linux")]
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `command` with `sockets` (duplicates made for it) and waits until it reports ready.
#[cfg(target_os = "linux")]
pub(crate) async fn spawn_and_wait(
    sockets: &[HandOverSocket],
    mut command: std::process::Command,
) -> Result<std::process::Child, Error> {
    use std::os::unix::process::CommandExt;
    use tokio::io::AsyncReadExt;

    let failed = Error::HandOver;
    // `sockets` are the caller's own duplicates, close-on-exec here; the pre-exec step clears
    // the flag in the child only.
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(failed)?;
    let listed: Vec<String> = sockets
        .iter()
        .map(|s| {
            let mut flags = String::new();
            if s.proxy_protocol {
                flags.push('p');
            }
            if s.owns_file() {
                flags.push('u');
            }
            if flags.is_empty() {
                flags.push('-');
            }
            format!("{}:{flags}", s.fd.as_raw_fd())
        })
        .collect();
    command.env(
        ENV,
        format!(
            "1;{};{};{}",
            std::process::id(),
            theirs.as_raw_fd(),
            listed.join(",")
        ),
    );
    let inherit: Vec<RawFd> = sockets
        .iter()
        .map(|s| s.fd.as_raw_fd())
        .chain([theirs.as_raw_fd()])
        .collect();
    // SAFETY: the closure runs in the child between fork and exec and only calls fcntl(2)
    // (async-signal-safe) on descriptors that exist in the child as in the parent.
    unsafe {
        command.pre_exec(move || {
            for &fd in &inherit {
                crate::sys::clear_cloexec(fd)?;
            }
            Ok(())
        });
    }
    let child = KillOnDrop(Some(command.spawn().map_err(failed)?));
    // The child has its copy now.
    drop(theirs);
    ours.set_nonblocking(true).map_err(failed)?;
    let mut ours = tokio::net::UnixStream::from_std(ours).map_err(failed)?;
    let mut byte = [0u8; 1];
    match ours.read(&mut byte).await {
        Ok(1) if byte[0] == READY => {}
        Ok(_) => {
            return Err(failed(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the new process exited or gave up before it was ready",
            )));
        }
        Err(e) => return Err(failed(e)),
    }
    let mut child = child;
    child
        .0
        .take()
        .ok_or_else(|| failed(io::Error::other("the new process is gone")))
}

/// Hand-over needs Linux here.
#[cfg(not(target_os = "linux"))]
pub(crate) async fn spawn_and_wait(
    _sockets: &[HandOverSocket],
    _command: std::process::Command,
) -> Result<std::process::Child, Error> {
    Err(Error::Unsupported("listener hand-over"))
}
