//! [`CpuSet`]: a list of CPUs to pin threads to, in the one CPU-list grammar of the workspace
//! (`0`, `0,2`, `2-3`, `0-1,4`), checked against the CPUs this process may run on.

use std::fmt;
use std::io;
use std::str::FromStr;

/// A set of CPUs, each listed once and below [`CpuSet::MAX`], in the order given.
///
/// Parse one from the CPU-list grammar (`1`, `0,2`, `2-3`, `0-1,4`; a CPU listed twice is an
/// error), or build one with [`CpuSet::new`]. [`check_allowed`](CpuSet::check_allowed) says
/// whether this process may run on all of them (`taskset`, cgroup cpusets);
/// [`pin_current_thread`](CpuSet::pin_current_thread) restricts the calling thread to them.
///
/// ```
/// use tcpserver::CpuSet;
///
/// let cpus: CpuSet = "0-1,4".parse()?;
/// assert_eq!(cpus.cpus(), [0, 1, 4]);
/// assert!("0,1,0".parse::<CpuSet>().is_err()); // CPU 0 twice
/// assert!("3-1".parse::<CpuSet>().is_err());
/// assert_eq!(CpuSet::new([2, 0])?.to_string(), "2,0");
/// # Ok::<(), tcpserver::CpuSetError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CpuSet {
    cpus: Vec<usize>,
}

/// Why a [`CpuSet`] was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CpuSetError {
    /// The text is not a CPU list (the message quotes it, cut short).
    #[error("invalid CPU list `{text}`: {why} (e.g. 1, 0,2 or 2-3)")]
    Syntax {
        /// The value, on one line and at most 60 characters.
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// The same CPU twice.
    #[error("CPU {0} is listed twice")]
    Duplicate(usize),
    /// A CPU at or above [`CpuSet::MAX`].
    #[error("CPU {0} is not below {max}", max = CpuSet::MAX)]
    OutOfRange(usize),
    /// No CPU at all.
    #[error("the CPU list is empty")]
    Empty,
    /// A CPU this process may not run on.
    #[error("CPU {cpu} is not one this process may run on (allowed: {allowed})")]
    NotAllowed {
        /// The CPU asked for.
        cpu: usize,
        /// The CPUs allowed, in the CPU-list grammar.
        allowed: CpuSet,
    },
    /// The operating system refused (or cannot do CPU affinity: [`io::ErrorKind::Unsupported`]).
    #[error("{call}: {source}")]
    Os {
        /// The system call.
        call: &'static str,
        /// What it returned.
        #[source]
        source: io::Error,
    },
}

impl CpuSet {
    /// CPUs numbered from this on are refused (`CPU_SETSIZE` of Linux's `sched_setaffinity`).
    pub const MAX: usize = 1024;

    /// A set of the given CPUs (in this order), each at most once and below [`CpuSet::MAX`].
    ///
    /// ```
    /// use tcpserver::{CpuSet, CpuSetError};
    /// assert!(matches!(CpuSet::new([0, 0]), Err(CpuSetError::Duplicate(0))));
    /// assert!(matches!(CpuSet::new([]), Err(CpuSetError::Empty)));
    /// ```
    pub fn new(cpus: impl IntoIterator<Item = usize>) -> Result<CpuSet, CpuSetError> {
        let mut set = CpuSet { cpus: Vec::new() };
        for cpu in cpus {
            set.push(cpu)?;
        }
        if set.cpus.is_empty() {
            return Err(CpuSetError::Empty);
        }
        Ok(set)
    }

    fn push(&mut self, cpu: usize) -> Result<(), CpuSetError> {
        if cpu >= CpuSet::MAX {
            return Err(CpuSetError::OutOfRange(cpu));
        }
        if self.cpus.contains(&cpu) {
            return Err(CpuSetError::Duplicate(cpu));
        }
        self.cpus.push(cpu);
        Ok(())
    }

    /// The CPUs, in the order given.
    pub fn cpus(&self) -> &[usize] {
        &self.cpus
    }

    /// The CPUs the calling thread may run on now, ascending (Linux `sched_getaffinity`).
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// let allowed = tcpserver::CpuSet::allowed()?;
    /// assert!(!allowed.cpus().is_empty());
    /// # }
    /// # Ok::<(), tcpserver::CpuSetError>(())
    /// ```
    pub fn allowed() -> Result<CpuSet, CpuSetError> {
        let cpus = super::thread_affinity().map_err(|source| CpuSetError::Os {
            call: "sched_getaffinity",
            source,
        })?;
        CpuSet::new(cpus)
    }

    /// Fails with [`CpuSetError::NotAllowed`] naming the first CPU of the set that this process
    /// may not run on. (The kernel would silently drop such a CPU from an affinity mask, or
    /// refuse the mask when no CPU of it is allowed.)
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use tcpserver::{CpuSet, CpuSetError};
    /// CpuSet::allowed()?.check_allowed()?;
    /// let err = CpuSet::new([1023])?.check_allowed().unwrap_err();
    /// assert!(matches!(err, CpuSetError::NotAllowed { cpu: 1023, .. }), "{err}");
    /// # }
    /// # Ok::<(), tcpserver::CpuSetError>(())
    /// ```
    pub fn check_allowed(&self) -> Result<(), CpuSetError> {
        let allowed = CpuSet::allowed()?;
        match self.cpus.iter().find(|cpu| !allowed.cpus.contains(cpu)) {
            Some(&cpu) => Err(CpuSetError::NotAllowed { cpu, allowed }),
            None => Ok(()),
        }
    }

    /// Restricts the calling thread, and the threads it starts afterwards, to these CPUs (Linux
    /// `sched_setaffinity`). Check the set with [`check_allowed`](CpuSet::check_allowed)
    /// first: the kernel leaves out CPUs that are not allowed without saying so.
    ///
    /// One system call on a mask built on the stack: it allocates nothing.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use tcpserver::CpuSet;
    /// let first = CpuSet::new([CpuSet::allowed()?.cpus()[0]])?;
    /// std::thread::spawn(move || {
    ///     first.pin_current_thread()?;
    ///     assert_eq!(CpuSet::allowed()?, first);
    ///     Ok::<(), tcpserver::CpuSetError>(())
    /// }).join().unwrap()?;
    /// # }
    /// # Ok::<(), tcpserver::CpuSetError>(())
    /// ```
    pub fn pin_current_thread(&self) -> Result<(), CpuSetError> {
        super::set_thread_affinity(&self.cpus).map_err(|source| CpuSetError::Os {
            call: "sched_setaffinity",
            source,
        })
    }
}

/// The CPU-list grammar: `1`, `0,2`, `2-3`, `0-1,4` (spaces around numbers allowed).
impl FromStr for CpuSet {
    type Err = CpuSetError;

    fn from_str(s: &str) -> Result<CpuSet, CpuSetError> {
        let bad = |why: String| CpuSetError::Syntax {
            text: one_line(s),
            why,
        };
        let cpu = |n: &str| -> Result<usize, CpuSetError> {
            let n = n.trim();
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("`{}` is not a CPU number", one_line(n))));
            }
            match n.parse::<usize>() {
                Ok(c) if c < CpuSet::MAX => Ok(c),
                _ => Err(bad(format!(
                    "CPU {} is not below {}",
                    one_line(n),
                    CpuSet::MAX
                ))),
            }
        };
        let mut set = CpuSet { cpus: Vec::new() };
        for part in s.split(',') {
            let (first, last) = match part.split_once('-') {
                Some((a, b)) => (cpu(a)?, cpu(b)?),
                None => (cpu(part)?, cpu(part)?),
            };
            if first > last {
                return Err(bad(format!("range `{}` goes backwards", one_line(part))));
            }
            for c in first..=last {
                set.push(c).map_err(|e| bad(e.to_string()))?;
            }
        }
        Ok(set)
    }
}

/// The CPU-list grammar, ranges written out: `0,1,4`.
impl fmt::Display for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, cpu) in self.cpus.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{cpu}")?;
        }
        Ok(())
    }
}

/// A value as an error message quotes it: control characters replaced, at most 60 characters.
fn one_line(s: &str) -> String {
    const MAX: usize = 60;
    let mut out: String = s
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().nth(MAX).is_some() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let parse = |s: &str| s.parse::<CpuSet>().map(|c| c.cpus);
        assert_eq!(parse("1").unwrap(), [1]);
        assert_eq!(parse("0,2-3").unwrap(), [0, 2, 3]);
        assert_eq!(parse(" 0 , 1 ").unwrap(), [0, 1]);
        assert_eq!(parse("1023").unwrap(), [1023]);
        for bad in [
            "",
            ",",
            "0,",
            "x",
            "-1",
            "3-1",
            "0,1,0",
            "0-2,1",
            "1024",
            "0-1024",
            "1-",
            "é",
            "99999999999999999999",
            "0,,1",
            "1-2-3",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(matches!(err, CpuSetError::Syntax { .. }), "{bad}: {err}");
        }
        assert!(
            parse("0,1,0")
                .unwrap_err()
                .to_string()
                .contains("CPU 0 is listed twice")
        );
        let long = parse(&"9".repeat(5000)).unwrap_err().to_string();
        assert!(long.len() < 300 && !long.contains('\n'), "{long}");
    }

    #[test]
    fn built_sets() {
        assert_eq!(CpuSet::new([3, 1]).unwrap().cpus(), [3, 1]);
        assert!(matches!(
            CpuSet::new([1, 1]),
            Err(CpuSetError::Duplicate(1))
        ));
        assert!(matches!(
            CpuSet::new([CpuSet::MAX]),
            Err(CpuSetError::OutOfRange(CpuSet::MAX))
        ));
        assert!(matches!(CpuSet::new([]), Err(CpuSetError::Empty)));
        let set: CpuSet = "0-2,5".parse().unwrap();
        assert_eq!(set.to_string().parse::<CpuSet>().unwrap(), set);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn allowed_pin_and_read_back() {
        let allowed = CpuSet::allowed().unwrap();
        allowed.check_allowed().unwrap();
        let err = CpuSet::new([CpuSet::MAX - 1])
            .unwrap()
            .check_allowed()
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("CPU 1023 is not one this process may run on (allowed: "),
            "{err}"
        );
        let last = CpuSet::new([*allowed.cpus().last().unwrap()]).unwrap();
        let pinned = std::thread::spawn(move || {
            last.pin_current_thread().unwrap();
            (CpuSet::allowed().unwrap(), last)
        })
        .join()
        .unwrap();
        assert_eq!(pinned.0, pinned.1);
    }
}
