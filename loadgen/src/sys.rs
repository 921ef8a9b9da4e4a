//! Every OS call of loadgen (Linux): CPU affinity, the open-files limit, process CPU time,
//! source-address binding, process groups and signals.
//!
//! Other modules do not call `libc` themselves. CPU affinity is the tcpserver library's
//! [`CpuSet`]: a CPU is checked against the CPUs this process may run on before any thread or
//! child is restricted, whoever asks (the load engine's `--cpus`, the runner's placement and
//! servers, the hyper contender's `--pin-cpus`), and refused with a [`CpuSetError`].

use std::io;
#[cfg(feature = "bench")]
use std::os::unix::process::CommandExt;
#[cfg(feature = "bench")]
use std::process::Command;
#[cfg(feature = "bench")]
use std::sync::Once;
#[cfg(feature = "bench")]
use std::sync::atomic::{AtomicI32, Ordering};

pub(crate) use tcpserver::{CpuSet, CpuSetError};

/// Whether this process may run on fewer CPUs than are online (`taskset`, a cpuset cgroup such as
/// `docker run --cpuset-cpus`): then the CPUs it has were set aside for it.
pub(crate) fn confined_to_some_cpus() -> bool {
    CpuSet::allowed().is_ok_and(|set| set.cpus().len() < online_cpus())
}

/// `cpus` as a set this process may run on: each CPU once, each one allowed.
pub(crate) fn allowed_set(cpus: &[usize]) -> Result<CpuSet, CpuSetError> {
    let set = CpuSet::new(cpus.iter().copied())?;
    set.check_allowed()?;
    Ok(set)
}

/// Restricts the calling thread (and what it creates afterwards) to `cpus`.
pub(crate) fn set_affinity(cpus: &[usize]) -> Result<(), CpuSetError> {
    allowed_set(cpus)?.pin_current_thread()
}

/// Pins the calling thread to `cpu`.
pub(crate) fn pin_current_thread(cpu: usize) -> Result<(), CpuSetError> {
    set_affinity(&[cpu])
}

/// The CPUs the calling thread may run on, ascending (all online CPUs if the kernel will not say).
#[cfg(feature = "bench")]
pub(crate) fn affinity_cpus() -> Vec<usize> {
    CpuSet::allowed().map_or_else(|_| (0..online_cpus()).collect(), |set| set.cpus().to_vec())
}

/// Logical CPUs online.
pub(crate) fn online_cpus() -> usize {
    sysconf_positive(libc::_SC_NPROCESSORS_ONLN)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

#[cfg(feature = "bench")]
/// Clock ticks per second, the unit of `/proc/PID/stat`'s CPU times.
pub(crate) fn clock_ticks_per_second() -> f64 {
    sysconf_positive(libc::_SC_CLK_TCK).map_or(100.0, |t| t as f64)
}

fn sysconf_positive(name: libc::c_int) -> Option<usize> {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(name) };
    (n > 0).then_some(n as usize)
}

/// Soft and hard `RLIMIT_NOFILE`.
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
pub(crate) fn open_files_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((lim.rlim_cur as u64, lim.rlim_max as u64))
}

/// Raises the soft `RLIMIT_NOFILE` to `needed` (at most the hard limit; never lowers it); returns
/// the soft limit now in force. Child processes inherit it.
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
pub(crate) fn raise_nofile(needed: u64) -> io::Result<u64> {
    let (soft, hard) = open_files_limit()?;
    if soft >= needed {
        return Ok(soft);
    }
    let want = if hard == libc::RLIM_INFINITY as u64 {
        needed
    } else {
        needed.min(hard)
    };
    let lim = libc::rlimit {
        rlim_cur: want as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(want)
}

/// User + system CPU seconds used by this process (all threads) so far, from `getrusage`.
pub(crate) fn process_cpu_seconds() -> f64 {
    // SAFETY: rusage is plain data; getrusage writes into the struct we own.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) != 0 {
            return 0.0;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(u.ru_utime) + tv(u.ru_stime)
    }
}

/// Whether a non-blocking `connect` error only says the handshake is under way (`EINPROGRESS`).
pub(crate) fn connect_in_progress(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINPROGRESS)
}

/// Lets `bind(ip, 0)` defer the port choice to `connect`, so one source IP can reach the full
/// ephemeral range per destination (Linux `IP_BIND_ADDRESS_NO_PORT`).
pub(crate) fn bind_address_no_port(fd: std::os::fd::RawFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt on a socket we own, reading a c_int we own.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(feature = "bench")]
/// A signal sent to a server's process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// SIGTERM: please stop.
    Terminate,
    /// SIGKILL.
    Kill,
}

#[cfg(feature = "bench")]
/// Sends `signal` to every process of group `pgid` (a group we created; groups 0 and 1 are never
/// signalled).
pub(crate) fn signal_process_group(pgid: u32, signal: Signal) {
    let signal = match signal {
        Signal::Terminate => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
    };
    if let Ok(pgid) = libc::pid_t::try_from(pgid)
        && pgid > 1
    {
        // SAFETY: plain syscall; a negative pid addresses the process group.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

#[cfg(feature = "bench")]
/// Makes the child of `cmd` the leader of a process group of its own (so the whole server tree can
/// be signalled), restricted to `cpus`, and killed if this process dies first. Check `cpus`
/// against the CPUs this process may use first (the runner's placement does): the child cannot
/// report a CPU the kernel leaves out.
pub(crate) fn isolate_child(cmd: &mut Command, cpus: CpuSet) {
    cmd.process_group(0);
    // SAFETY: the hook runs in the forked child before exec, where only async-signal-safe calls
    // are allowed. It makes two system calls and nothing else:
    // - sched_setaffinity, through CpuSet::pin_current_thread, which builds the mask on the stack
    //   from the set's CPUs and allocates nothing. The set itself (its Vec) was built in the
    //   parent before the fork; its CPUs are below CPU_SETSIZE (CpuSet checks that when it is
    //   built). Its only error is CpuSetError::Os, an errno in an io::Error: moving it out
    //   allocates and frees nothing.
    // - prctl(PR_SET_PDEATHSIG).
    // It takes no lock and touches no state shared with other threads.
    unsafe {
        cmd.pre_exec(move || {
            cpus.pin_current_thread().map_err(|e| match e {
                CpuSetError::Os { source, .. } => source,
                _ => io::ErrorKind::InvalidInput.into(),
            })?;
            // If the runner dies without stopping us, die too.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(feature = "bench")]
/// The process group killed on SIGINT/SIGTERM (0: none).
static INTERRUPT_GROUP: AtomicI32 = AtomicI32::new(0);

#[cfg(feature = "bench")]
/// Servers live in their own process groups, so Ctrl-C reaches only the runner: from now on, on
/// SIGINT or SIGTERM, kill group `pgid`, then exit with 128 + the signal.
pub(crate) fn kill_group_on_interrupt(pgid: u32) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        extern "C" fn on_signal(signal: libc::c_int) {
            let group = INTERRUPT_GROUP.load(Ordering::SeqCst);
            // SAFETY: an atomic load, kill and _exit are async-signal-safe.
            unsafe {
                if group > 1 {
                    libc::kill(-group, libc::SIGKILL);
                }
                libc::_exit(128 + signal);
            }
        }
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: installs a handler that only makes async-signal-safe calls.
        unsafe {
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
        }
    });
    INTERRUPT_GROUP.store(i32::try_from(pgid).unwrap_or(0), Ordering::SeqCst);
}

#[cfg(feature = "bench")]
/// Undoes [`kill_group_on_interrupt`] for `pgid` (if it is still the one registered).
pub(crate) fn forget_group_on_interrupt(pgid: u32) {
    let pgid = i32::try_from(pgid).unwrap_or(0);
    let _ = INTERRUPT_GROUP.compare_exchange(pgid, 0, Ordering::SeqCst, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_cpus_are_errors_not_panics() {
        for cpus in [&[0, 1023][..], &[usize::MAX], &[0, 0], &[]] {
            let err = set_affinity(cpus).unwrap_err();
            assert!(!matches!(err, CpuSetError::Os { .. }), "{cpus:?}: {err}");
        }
        let err = pin_current_thread(1023).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("CPU 1023 is not one this process may run on"),
            "{err}"
        );
    }

    #[cfg(feature = "bench")]
    #[test]
    fn pins_and_reads_back() {
        let mine = affinity_cpus();
        assert!(!mine.is_empty());
        let first = mine[0];
        let handle = std::thread::spawn(move || {
            pin_current_thread(first).unwrap();
            affinity_cpus()
        });
        assert_eq!(handle.join().unwrap(), vec![first]);
    }

    #[test]
    fn limits_and_cpu_time() {
        let (soft, hard) = open_files_limit().unwrap();
        assert!(soft <= hard);
        assert_eq!(raise_nofile(soft).unwrap(), soft);
        let before = process_cpu_seconds();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(process_cpu_seconds() >= before);
        #[cfg(feature = "bench")]
        assert!(clock_ticks_per_second() > 0.0);
    }
}
