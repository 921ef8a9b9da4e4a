//! Benchmark results on disk: one JSON file per scenario × contender × thread count in a run
//! directory `results/<UTC timestamp>/`, plus `run.json` (machine, CPU placement, skipped and failed
//! runs), and the generated `results/README.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::bench::machine::Machine;
use crate::bench::scenario::Scenario;
use crate::report::Report;

/// The manifest file of a run directory.
pub const MANIFEST: &str = "run.json";

/// One measured run: a scenario against one contender with one server thread count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// The scenario as run (after `--duration`/`--connections` overrides).
    pub scenario: Scenario,
    /// The contender's name.
    pub contender: String,
    /// The contender's description or command.
    pub contender_description: String,
    /// Server threads (`--threads`, GOMAXPROCS in the Go project's charts).
    pub threads: usize,
    /// CPUs the server process was restricted to.
    pub server_cpus: Vec<usize>,
    /// CPUs the load generator ran on.
    pub client_cpus: Vec<usize>,
    /// UTC start of the measured part, RFC 3339.
    pub started_at: String,
    /// Mean requests per second (completed responses / measured time).
    pub requests_per_second: f64,
    /// Failed requests (all error classes) and non-2xx responses.
    pub errors: u64,
    /// Server process (group) resource use over the measured part.
    pub server: ServerUsage,
    /// Client process CPU seconds over the measured part (getrusage).
    pub client_cpu_seconds: f64,
    /// The machine.
    pub machine: Machine,
    /// The full load-generator report (latency histogram included).
    pub report: Report,
}

impl RunRecord {
    /// A latency percentile (`"50"`, `"99.9"`...) formatted for tables, or `-`.
    pub fn percentile(&self, key: &str) -> String {
        self.report
            .result
            .latency
            .percentiles
            .get(key)
            .map_or_else(|| "-".to_string(), |v| format_latency_us(*v as f64))
    }

    /// The headline numbers as `(column, value)`: req/s, latency p50/p90/p99/p99.9/max, errors,
    /// server CPU per request, server peak RSS, client CPU.
    pub fn headline(&self) -> [(&'static str, String); 10] {
        [
            ("req/s", format_rps(self.requests_per_second)),
            ("p50", self.percentile("50")),
            ("p90", self.percentile("90")),
            ("p99", self.percentile("99")),
            ("p99.9", self.percentile("99.9")),
            ("max", format_latency_us(self.report.result.latency.max)),
            ("errors", self.errors.to_string()),
            (
                "server CPU/req",
                format!("{:.1}µs", self.server.cpu_us_per_request),
            ),
            ("server peak RSS", format!("{:.1} MiB", self.peak_rss_mib())),
            ("client CPU", format!("{:.2}s", self.client_cpu_seconds)),
        ]
    }

    /// Server peak RSS in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.server.peak_rss_kib as f64 / 1024.0
    }
}

/// Server resource use, from `/proc`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerUsage {
    /// User + system CPU seconds over the measured part.
    pub cpu_seconds: f64,
    /// CPU microseconds per completed request.
    pub cpu_us_per_request: f64,
    /// Peak resident set size at the end of the run, KiB (summed over the process group).
    pub peak_rss_kib: u64,
    /// Processes in the server's process group (nginx: master + workers).
    pub processes: usize,
}

/// A scenario × contender combination that was not run, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    /// Scenario id.
    pub scenario: String,
    /// Contender name.
    pub contender: String,
    /// Server threads, if the failure was for one thread count only.
    pub threads: Option<usize>,
    /// Why (missing features, or the error of a failed run).
    pub reason: String,
}

/// `run.json`: what a run directory holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunManifest {
    /// UTC start of the run, RFC 3339.
    pub started_at: String,
    /// The command line.
    pub command: String,
    /// The machine.
    pub machine: Machine,
    /// CPUs given to servers.
    pub server_cpus: Vec<usize>,
    /// CPUs given to the load generator.
    pub client_cpus: Vec<usize>,
    /// Server thread counts swept.
    pub threads: Vec<usize>,
    /// Contender names, in chart order.
    pub contenders: Vec<String>,
    /// Scenario ids, in order.
    pub scenarios: Vec<String>,
    /// Combinations skipped for missing features.
    pub skipped: Vec<Skipped>,
    /// Runs that failed (server did not start, load generator error).
    pub failed: Vec<Skipped>,
}

/// A run directory read back.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The directory.
    pub dir: PathBuf,
    /// `run.json`, if present.
    pub manifest: Option<RunManifest>,
    /// The records, ordered by scenario, contender (manifest order), threads.
    pub records: Vec<RunRecord>,
}

/// The file name of a record: `<scenario>-<contender>-t<threads>.json`.
pub fn record_file_name(scenario: &str, contender: &str, threads: usize) -> String {
    format!("{scenario}-{contender}-t{threads}.json")
}

/// Writes `value` as pretty JSON to `path` (via a temporary file and rename).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, path)
}

/// Writes one record into `dir`; returns its path.
pub fn write_record(dir: &Path, record: &RunRecord) -> std::io::Result<PathBuf> {
    let path = dir.join(record_file_name(
        &record.scenario.id,
        &record.contender,
        record.threads,
    ));
    write_json(&path, record)?;
    Ok(path)
}

/// Reads a run directory: `run.json` and every other `*.json` as a [`RunRecord`].
pub fn read_run_dir(dir: &Path) -> anyhow::Result<RunDir> {
    use anyhow::Context;
    let mut manifest = None;
    let mut records = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("reading results in {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        if path.file_name().is_some_and(|n| n == MANIFEST) {
            manifest = Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("parsing {}", path.display()))?,
            );
        } else {
            records.push(
                serde_json::from_str::<RunRecord>(&text)
                    .with_context(|| format!("parsing {}", path.display()))?,
            );
        }
    }
    let order: Vec<String> = manifest
        .as_ref()
        .map(|m: &RunManifest| m.contenders.clone())
        .unwrap_or_default();
    let contender_rank = |name: &str| order.iter().position(|c| c == name).unwrap_or(usize::MAX);
    records.sort_by(|a, b| {
        crate::bench::scenario::id_sort_key(&a.scenario.id)
            .cmp(&crate::bench::scenario::id_sort_key(&b.scenario.id))
            .then(contender_rank(&a.contender).cmp(&contender_rank(&b.contender)))
            .then(a.contender.cmp(&b.contender))
            .then(a.threads.cmp(&b.threads))
    });
    Ok(RunDir {
        dir: dir.to_path_buf(),
        manifest,
        records,
    })
}

/// The newest run directory under `results_dir` (names are UTC timestamps, so the greatest name).
pub fn latest_run_dir(results_dir: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(results_dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.join(MANIFEST).is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// `2026-11-26T23:45:07Z` for `time`.
pub fn rfc3339(time: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(time);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `2026-11-26T234507Z`: a run directory name that sorts by time and is valid everywhere.
pub fn dir_timestamp(time: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(time);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// UTC calendar fields (proleptic Gregorian; Howard Hinnant's days-to-civil).
fn civil(time: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

/// Formats a request rate: `123456` -> `123.5k`.
pub fn format_rps(rps: f64) -> String {
    if rps >= 1e6 {
        format!("{:.2}M", rps / 1e6)
    } else if rps >= 1e3 {
        format!("{:.1}k", rps / 1e3)
    } else {
        format!("{rps:.0}")
    }
}

/// Formats a latency in µs: `850µs`, `12.3ms`, `1.20s`.
pub fn format_latency_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2}s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.1}ms", us / 1e3)
    } else {
        format!("{us:.0}µs")
    }
}

/// File names of the charts of a scenario, relative to the run directory.
pub fn chart_files(scenario_id: &str) -> (String, String) {
    (
        format!("scenario-{scenario_id}-rps.png"),
        format!("scenario-{scenario_id}-latency.png"),
    )
}

/// Renders `results/README.md` for a run: machine, placement, one table per scenario, charts,
/// skipped and failed runs. `link_prefix` is the run directory relative to the README.
pub fn readme(run: &RunDir, link_prefix: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmark results\n");
    let _ = writeln!(
        md,
        "Generated by `loadgen plot` from the run in [`{link_prefix}`]({link_prefix}/). \
         Every number below comes from that run's JSON files; re-run with \
         `cargo run --release -p loadgen -- --scenario all`.\n"
    );
    let machine = run
        .manifest
        .as_ref()
        .map(|m| m.machine.clone())
        .or_else(|| run.records.first().map(|r| r.machine.clone()));
    if let Some(m) = &machine {
        let _ = writeln!(md, "## Machine\n");
        let _ = writeln!(md, "| | |\n|---|---|");
        let _ = writeln!(md, "| CPU | {} |", m.cpu_model);
        let _ = writeln!(
            md,
            "| CPUs | {} logical{} |",
            m.logical_cpus,
            m.physical_cores
                .map(|c| format!(", {c} physical cores"))
                .unwrap_or_default()
        );
        if let Some(mem) = m.memory_mib {
            let _ = writeln!(md, "| Memory | {mem} MiB |");
        }
        let _ = writeln!(md, "| Kernel | Linux {} |", m.kernel);
        let _ = writeln!(md, "| OS | {} |", m.os);
        let _ = writeln!(md, "| Rust | {} |", m.rustc);
        let _ = writeln!(md, "| Commit | `{}` |", m.git_commit);
        if let Some(limit) = m.open_files_limit {
            let _ = writeln!(md, "| Open files limit | {limit} |");
        }
        let _ = writeln!(md);
    }
    if let Some(manifest) = &run.manifest {
        let _ = writeln!(
            md,
            "Started {}. Server on CPU {}, load generator on CPU {} (disjoint sets, \
             `sched_setaffinity`). Server threads swept: {}.\n",
            manifest.started_at,
            cpu_list(&manifest.server_cpus),
            cpu_list(&manifest.client_cpus),
            manifest
                .threads
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(md, "Command: `{}`\n", manifest.command);
    }

    let mut by_scenario: BTreeMap<(bool, u64, String), Vec<&RunRecord>> = BTreeMap::new();
    for record in &run.records {
        by_scenario
            .entry(crate::bench::scenario::id_sort_key(&record.scenario.id))
            .or_default()
            .push(record);
    }
    for records in by_scenario.values() {
        let scenario = &records[0].scenario;
        let _ = writeln!(md, "## Scenario {}: {}\n", scenario.id, scenario.name);
        if scenario.description.is_empty() {
            let _ = writeln!(md, "{}\n", scenario.summary());
        } else {
            let _ = writeln!(md, "{} ({})\n", scenario.description, scenario.summary());
        }
        let columns = records[0].headline().map(|(column, _)| column);
        let _ = writeln!(md, "| contender | threads | {} |", columns.join(" | "));
        let _ = writeln!(md, "|---|---:|{}", "---:|".repeat(columns.len()));
        for r in records {
            let values = r.headline().map(|(_, value)| value);
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                r.contender,
                r.threads,
                values.join(" | ")
            );
        }
        let (rps_chart, latency_chart) = chart_files(&scenario.id);
        let _ = writeln!(md);
        for chart in [rps_chart, latency_chart] {
            if run.dir.join(&chart).is_file() {
                let _ = writeln!(md, "![{chart}]({link_prefix}/{chart})");
            }
        }
        let _ = writeln!(md);
    }
    if let Some(manifest) = &run.manifest {
        if !manifest.skipped.is_empty() {
            let _ = writeln!(md, "## Skipped\n");
            for s in &manifest.skipped {
                let _ = writeln!(
                    md,
                    "- scenario {} × {}: {}",
                    s.scenario, s.contender, s.reason
                );
            }
            let _ = writeln!(md);
        }
        if !manifest.failed.is_empty() {
            let _ = writeln!(md, "## Failed\n");
            for s in &manifest.failed {
                let _ = writeln!(
                    md,
                    "- scenario {} × {}{}: {}",
                    s.scenario,
                    s.contender,
                    s.threads.map(|t| format!(" (t{t})")).unwrap_or_default(),
                    s.reason
                );
            }
            let _ = writeln!(md);
        }
    }
    let _ = writeln!(
        md,
        "Columns: req/s = completed responses / measured seconds; latency percentiles from the \
         load generator's HDR histogram (µs resolution, from the actual send); errors = failed \
         requests + non-2xx; server CPU/req = server process-group user+system CPU time over the \
         measured part / completed requests (`/proc/PID/stat`); peak RSS = `VmHWM`; client CPU \
         from `getrusage`."
    );
    md
}

/// `0,1,2,3` (the form `--pin-cpus` and `taskset -c` read).
pub fn cpu_list_commas(cpus: &[usize]) -> String {
    cpus.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// `0`, `0,1`, or `0-3`.
pub fn cpu_list(cpus: &[usize]) -> String {
    if cpus.len() > 2 && cpus.windows(2).all(|w| w[1] == w[0] + 1) {
        format!("{}-{}", cpus[0], cpus[cpus.len() - 1])
    } else {
        cpus.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_736_707);
        assert_eq!(rfc3339(t), "2026-11-26T23:45:07Z");
        assert_eq!(dir_timestamp(t), "2026-11-26T234507Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn formats() {
        assert_eq!(format_rps(123_456.0), "123.5k");
        assert_eq!(format_latency_us(850.0), "850µs");
        assert_eq!(format_latency_us(12_345.0), "12.3ms");
        assert_eq!(cpu_list(&[0, 1, 2, 3]), "0-3");
        assert_eq!(cpu_list(&[0, 1]), "0,1");
    }
}
