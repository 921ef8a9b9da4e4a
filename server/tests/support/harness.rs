//! The waiting and runtime helpers of every test in the repository: one [`PATIENCE`], one
//! [`eventually`], one [`runtime`], one [`wait_for_exit`].
//!
//! The library's tests include this file through `support/mod.rs`; the responder's and loadgen's
//! test support include it by path (`#[path = ".../server/tests/support/harness.rs"]`), so the
//! three crates wait the same way.

use std::future::Future;
use std::time::Duration;

/// Generous bound for anything a test waits on (a loaded 2-core machine). Tests that pass never
/// wait this long: it only bounds how long a broken one hangs.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Awaits `f`, failing the test after [`PATIENCE`].
pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(PATIENCE, f)
        .await
        .expect("the test timed out")
}

/// Polls `cond` (cheap, in-memory or a `/proc` read) every 5 ms until it holds; fails the test
/// after [`PATIENCE`].
pub async fn eventually(mut cond: impl FnMut() -> bool) {
    within(async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// A 2-worker multi-thread runtime, for tests that are plain `#[test]` functions (blocking
/// clients, in-process servers with runtimes of their own).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("test runtime")
}

/// Waits for `child` to exit (a blocking `wait` on a thread of its own, no polling); kills it
/// and fails the test after [`PATIENCE`].
pub fn wait_for_exit(mut child: std::process::Child) -> std::process::ExitStatus {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(status) => status.expect("wait for the child process"),
        Err(_) => {
            // SAFETY: kill(2) on our own child; it is not reaped yet (its `wait` has not
            // returned), so the pid still names it.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("child process {pid} did not exit within {PATIENCE:?}");
        }
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; `true` if at least `need` descriptors are
/// then allowed.
pub fn raise_nofile(need: u64) -> bool {
    // SAFETY: getrlimit/setrlimit on a local, fully initialised struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return false;
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
        lim.rlim_cur >= need
    }
}
