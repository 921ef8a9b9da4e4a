//! OS-specific bits: file-descriptor limit, CPU pinning, process CPU time, source-address binding.

use std::io;

/// Raises RLIMIT_NOFILE so that `needed` descriptors fit; returns the soft limit now in force.
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
#[cfg(unix)]
pub(crate) fn raise_nofile(needed: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur as u64 >= needed {
        return Ok(lim.rlim_cur as u64);
    }
    let want = if lim.rlim_max == libc::RLIM_INFINITY {
        needed
    } else {
        needed.min(lim.rlim_max as u64)
    };
    lim.rlim_cur = want as libc::rlim_t;
    // SAFETY: setrlimit reads the struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(want)
}

#[cfg(not(unix))]
pub(crate) fn raise_nofile(needed: u64) -> io::Result<u64> {
    Ok(needed)
}

/// Pins the calling thread to `cpu`.
#[cfg(target_os = "linux")]
pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET bounds-checks against its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "CPU index too large",
            ));
        }
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn pin_current_thread(_cpu: usize) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "CPU pinning needs Linux",
    ))
}

/// User + system CPU seconds used by this process so far.
#[cfg(unix)]
pub(crate) fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) != 0 {
            return 0.0;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(u.ru_utime) + tv(u.ru_stime)
    }
}

#[cfg(not(unix))]
pub(crate) fn process_cpu_seconds() -> f64 {
    0.0
}

/// Lets `bind(ip, 0)` defer the port choice to `connect`, so one source IP can reach the full
/// ephemeral range per destination (Linux `IP_BIND_ADDRESS_NO_PORT`).
#[cfg(target_os = "linux")]
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

#[cfg(not(target_os = "linux"))]
pub(crate) fn bind_address_no_port(_fd: i32) -> io::Result<()> {
    Ok(())
}
