//! The machine a benchmark ran on (no host name), and per-process CPU time and memory from `/proc`
//! (the OS calls themselves are in [`crate::sys`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::sys;

/// Description of the benchmark machine, saved with every result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Logical CPUs online.
    pub logical_cpus: usize,
    /// CPUs this process may run on (its affinity mask).
    pub available_cpus: Vec<usize>,
    /// Physical cores (distinct core ids), when `/proc/cpuinfo` says.
    pub physical_cores: Option<usize>,
    /// Total memory in MiB.
    pub memory_mib: Option<u64>,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Operating system (`PRETTY_NAME` of `/etc/os-release`).
    pub os: String,
    /// `rustc -V` of the toolchain that built loadgen.
    pub rustc: String,
    /// Git commit of the source tree loadgen was built from.
    pub git_commit: String,
    /// loadgen's version.
    pub loadgen_version: String,
    /// Soft limit of open files (`ulimit -n`).
    pub open_files_limit: Option<u64>,
}

impl Machine {
    /// Probes the current machine.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo_field(&cpuinfo, "model name")
            .or_else(|| cpuinfo_field(&cpuinfo, "Model"))
            .unwrap_or_else(|| "unknown".into());
        let mut core_ids: Vec<(String, String)> = Vec::new();
        let mut physical = String::new();
        for line in cpuinfo.lines() {
            if let Some((key, value)) = line.split_once(':') {
                match key.trim() {
                    "physical id" => physical = value.trim().to_string(),
                    "core id" => core_ids.push((physical.clone(), value.trim().to_string())),
                    _ => {}
                }
            }
        }
        core_ids.sort();
        core_ids.dedup();
        Machine {
            cpu_model,
            logical_cpus: sys::online_cpus(),
            available_cpus: sys::affinity_cpus(),
            physical_cores: (!core_ids.is_empty()).then_some(core_ids.len()),
            memory_mib: std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|m| status_kib(&m, "MemTotal:"))
                .map(|kib| kib / 1024),
            kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default(),
            os: os_release().unwrap_or_default(),
            rustc: env!("LOADGEN_RUSTC_VERSION").to_string(),
            git_commit: env!("LOADGEN_GIT_COMMIT").to_string(),
            loadgen_version: env!("CARGO_PKG_VERSION").to_string(),
            open_files_limit: sys::open_files_limit().ok().map(|(soft, _)| soft),
        }
    }

    /// One line for reports: `AMD EPYC, 2 CPUs, Linux 6.1.0, rustc 1.95.0, commit abc123`.
    pub fn summary(&self) -> String {
        format!(
            "{}, {} CPUs{}, {} MiB, Linux {}, {}, {}, commit {}",
            self.cpu_model,
            self.logical_cpus,
            self.physical_cores
                .map(|c| format!(" ({c} cores)"))
                .unwrap_or_default(),
            self.memory_mib.unwrap_or(0),
            self.kernel,
            if self.os.is_empty() {
                "unknown OS"
            } else {
                &self.os
            },
            if self.rustc.is_empty() {
                "rustc ?"
            } else {
                &self.rustc
            },
            if self.git_commit.is_empty() {
                "?"
            } else {
                &self.git_commit
            },
        )
    }
}

fn cpuinfo_field(cpuinfo: &str, name: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_string())
    })
}

fn read_trimmed(path: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn os_release() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines().find_map(|line| {
        line.strip_prefix("PRETTY_NAME=")
            .map(|v| v.trim_matches('"').to_string())
    })
}

/// CPU time and memory of a process (or of a process group, summed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessStats {
    /// User + system CPU seconds (`utime + stime` of `/proc/PID/stat`).
    pub cpu_seconds: f64,
    /// Peak resident set size in KiB (`VmHWM` of `/proc/PID/status`).
    pub peak_rss_kib: u64,
    /// Processes counted.
    pub processes: usize,
}

impl ProcessStats {
    /// Reads the stats of one process.
    pub fn of_pid(pid: u32) -> std::io::Result<ProcessStats> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let parsed = parse_stat(&stat).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "unparsable /proc/PID/stat")
        })?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        Ok(ProcessStats {
            cpu_seconds: parsed.cpu_ticks as f64 / sys::clock_ticks_per_second(),
            peak_rss_kib: status_kib(&status, "VmHWM:").unwrap_or(0),
            processes: 1,
        })
    }

    /// Sums the stats of every process in process group `pgid` (e.g. nginx's master and workers).
    /// Peak RSS is the sum of each process's peak.
    pub fn of_process_group(pgid: u32) -> std::io::Result<ProcessStats> {
        let mut total = ProcessStats::default();
        for entry in std::fs::read_dir("/proc")? {
            let Ok(entry) = entry else { continue };
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some(parsed) = parse_stat(&stat) else {
                continue;
            };
            if parsed.pgrp != pgid {
                continue;
            }
            if let Ok(one) = ProcessStats::of_pid(pid) {
                total.cpu_seconds += one.cpu_seconds;
                total.peak_rss_kib += one.peak_rss_kib;
                total.processes += 1;
            }
        }
        Ok(total)
    }
}

struct Stat {
    pgrp: u32,
    cpu_ticks: u64,
}

/// Parses `/proc/PID/stat`; the command name may contain spaces and parentheses, so fields are
/// counted after the last `)`.
fn parse_stat(stat: &str) -> Option<Stat> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) pgrp(5) ... utime(14) stime(15), 1-based in proc(5).
    let pgrp = fields.get(2)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Stat {
        pgrp,
        cpu_ticks: utime + stime,
    })
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        line.strip_prefix(key)?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let stat = "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1 1 1";
        let parsed = parse_stat(stat).unwrap();
        assert_eq!(parsed.pgrp, 1234);
        assert_eq!(parsed.cpu_ticks, 300);
    }

    #[test]
    fn own_process_stats() {
        let me = ProcessStats::of_pid(std::process::id()).unwrap();
        assert!(me.peak_rss_kib > 0);
        let machine = Machine::detect();
        assert!(machine.logical_cpus >= 1);
        assert!(!machine.available_cpus.is_empty());
        assert!(machine.rustc.starts_with("rustc"), "{}", machine.rustc);
    }
}
