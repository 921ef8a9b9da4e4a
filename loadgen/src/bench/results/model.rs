//! What a result file and a run's `run.json` hold, and when a run counts as failed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bench::machine::Machine;
use crate::bench::scenario::Scenario;
use crate::report::{Report, RunResult};

use super::format::{format_latency_us, format_rps};

/// The manifest file of a run directory.
pub const MANIFEST: &str = "run.json";

/// Errors (failed requests and non-2xx responses) above this share of the attempts fail a run,
/// unless the runner is given another `--fail-threshold`.
pub const DEFAULT_FAIL_THRESHOLD: f64 = 0.01;

/// One measured run: a scenario against one contender with one server thread count, one repeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// The scenario as run (after `--duration`/`--connections` overrides), with the SHA-256 of
    /// its file.
    pub scenario: Scenario,
    /// The contender's name.
    pub contender: String,
    /// The contender's description or command template.
    pub contender_description: String,
    /// The full command the server was started with (placeholders substituted).
    #[serde(default)]
    pub contender_command: String,
    /// Server threads (`--threads`, GOMAXPROCS in the Go project's charts).
    pub threads: usize,
    /// Which repeat of this scenario × contender × threads (1-based; `--repeat N`).
    #[serde(default = "first_repeat")]
    pub repeat: usize,
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
    /// Set when the run counts as failed: no successful request, or errors above the threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Server process (group) resource use over the measured part.
    pub server: ServerUsage,
    /// Client process CPU seconds over the measured part (getrusage).
    pub client_cpu_seconds: f64,
    /// The machine.
    pub machine: Machine,
    /// The full load-generator report (latency histogram included).
    pub report: Report,
}

fn first_repeat() -> usize {
    1
}

impl RunRecord {
    /// A latency percentile (`"50"`, `"99.9"`...) in µs, if the report has it.
    pub fn percentile_us(&self, key: &str) -> Option<f64> {
        self.report
            .result
            .latency
            .percentiles
            .get(key)
            .map(|v| *v as f64)
    }

    /// A latency percentile formatted for tables, or `-`.
    pub fn percentile(&self, key: &str) -> String {
        self.percentile_us(key)
            .map_or_else(|| "-".to_string(), format_latency_us)
    }

    /// The headline numbers of this one run as `(column, value)`, for the console.
    pub fn headline(&self) -> Vec<(&'static str, String)> {
        vec![
            ("req/s", format_rps(self.requests_per_second)),
            ("p50", self.percentile("50")),
            ("p99", self.percentile("99")),
            ("p99.9", self.percentile("99.9")),
            ("max", format_latency_us(self.report.result.latency.max)),
            ("errors", self.errors.to_string()),
            (
                "server CPU/req",
                self.server
                    .cpu_us_per_request
                    .map_or_else(|| "-".into(), |us| format!("{us:.1}µs")),
            ),
            ("server peak RSS", format!("{:.1} MiB", self.peak_rss_mib())),
            ("client CPU", format!("{:.2}s", self.client_cpu_seconds)),
        ]
    }

    /// Server peak RSS in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.server.peak_rss_kib as f64 / 1024.0
    }

    /// True if the run counts as failed.
    pub fn is_failed(&self) -> bool {
        self.failure.is_some()
    }
}

/// Why a run that completed counts as failed, with its error classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// `no successful request` or `errors 12.5% of attempts (threshold 1%)`.
    pub reason: String,
    /// Non-zero error counts by class (`connect`, `timeout`, ..., and `1xx`/`3xx`/`4xx`/`5xx`/
    /// `other` for responses that were not 2xx).
    pub error_classes: BTreeMap<String, u64>,
}

impl Failure {
    /// Judges a load result: failed if no request succeeded (2xx), or if errors exceed
    /// `threshold` (a fraction) of the attempts.
    ///
    /// ```
    /// use loadgen::bench::results::Failure;
    /// use loadgen::report::RunResult;
    ///
    /// let mut result = RunResult::default();
    /// result.error_classes.connect = 2000;
    /// let failure = Failure::judge(&result, 0.01).unwrap();
    /// assert_eq!(failure.reason, "no successful request");
    /// assert_eq!(failure.error_classes["connect"], 2000);
    ///
    /// result.req2xx = 1000;
    /// result.requests = 1000;
    /// result.error_classes.connect = 5;
    /// assert!(Failure::judge(&result, 0.01).is_none());
    /// ```
    pub fn judge(result: &RunResult, threshold: f64) -> Option<Failure> {
        let mut classes: BTreeMap<String, u64> = result
            .error_classes
            .iter()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| (name.to_string(), n))
            .collect();
        for (name, n) in [
            ("1xx", result.req1xx),
            ("3xx", result.req3xx),
            ("4xx", result.req4xx),
            ("5xx", result.req5xx),
            ("other", result.others),
        ] {
            if n > 0 {
                classes.insert(name.to_string(), n);
            }
        }
        let errors: u64 = classes.values().sum();
        let attempts = result.requests + result.error_classes.total();
        let reason = if result.req2xx == 0 {
            "no successful request".to_string()
        } else if attempts > 0 && errors as f64 > threshold * attempts as f64 {
            format!(
                "errors {:.1}% of attempts (threshold {}%)",
                100.0 * errors as f64 / attempts as f64,
                100.0 * threshold
            )
        } else {
            return None;
        };
        Some(Failure {
            reason,
            error_classes: classes,
        })
    }

    /// `no successful request (connect 2000)`.
    pub fn describe(&self) -> String {
        if self.error_classes.is_empty() {
            return self.reason.clone();
        }
        let classes: Vec<String> = self
            .error_classes
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        format!("{} ({})", self.reason, classes.join(", "))
    }
}

/// Server resource use, from `/proc`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerUsage {
    /// User + system CPU seconds over the measured part.
    pub cpu_seconds: f64,
    /// CPU microseconds per completed request; none when no request completed.
    pub cpu_us_per_request: Option<f64>,
    /// Peak resident set size at the end of the run, KiB (summed over the process group).
    pub peak_rss_kib: u64,
    /// Processes in the server's process group (nginx: master + workers).
    pub processes: usize,
}

/// A scenario × contender combination that was not run or did not succeed, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    /// Scenario id.
    pub scenario: String,
    /// Contender name.
    pub contender: String,
    /// Server threads, if it is about one thread count only.
    pub threads: Option<usize>,
    /// The repeat, if it is about one repeat only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<usize>,
    /// Why (missing features, the error of a run that could not be measured, or a
    /// [`Failure::describe`]).
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
    /// Repeats of every scenario × contender × threads (interleaved).
    #[serde(default = "first_repeat")]
    pub repeats: usize,
    /// Contender names, in chart order.
    pub contenders: Vec<String>,
    /// Scenario ids, in order.
    pub scenarios: Vec<String>,
    /// Combinations skipped for missing features.
    pub skipped: Vec<Skipped>,
    /// Runs that failed: not measured (server did not start, load generator error) or judged
    /// failed ([`Failure`]).
    pub failed: Vec<Skipped>,
}
