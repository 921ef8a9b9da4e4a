//! Repeats summarized: one [`Point`] per scenario × contender × threads, with the median, min–max
//! and coefficient of variation ([`Spread`]) of a [`Metric`] over its successful repeats.

use super::model::{RunRecord, Skipped};
use super::store::RunDir;

/// A coefficient of variation above this is flagged as noisy.
pub const NOISY_CV: f64 = 0.05;

/// Median, min–max and coefficient of variation of one metric over the repeats.
///
/// ```
/// use loadgen::bench::results::Spread;
///
/// let s = Spread::of(&[100.0, 110.0, 90.0]).unwrap();
/// assert_eq!((s.median, s.min, s.max, s.n), (100.0, 90.0, 110.0, 3));
/// assert!(s.is_noisy()); // CV 8.2%
/// assert!(Spread::of(&[]).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Median (mean of the middle two for an even count).
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Sample standard deviation / mean (0 for one value).
    pub cv: f64,
    /// Values.
    pub n: usize,
}

impl Spread {
    /// The spread of `values` (none if empty).
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let mean = sorted.iter().sum::<f64>() / n as f64;
        let cv = if n > 1 && mean != 0.0 {
            let var = sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            var.sqrt() / mean.abs()
        } else {
            0.0
        };
        Some(Spread {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            cv,
            n,
        })
    }

    /// True if the coefficient of variation is above [`NOISY_CV`] (5%).
    pub fn is_noisy(&self) -> bool {
        self.cv > NOISY_CV
    }

    /// `median` alone for one value, else `median (min–max)`, each formatted by `format`.
    pub fn display(&self, format: impl Fn(f64) -> String) -> String {
        if self.n <= 1 {
            format(self.median)
        } else {
            format!(
                "{} ({}–{})",
                format(self.median),
                format(self.min),
                format(self.max)
            )
        }
    }

    /// The coefficient of variation as `2.1%`, flagged `7.3% ⚠` when noisy; `-` for one value.
    pub fn cv_display(&self) -> String {
        if self.n <= 1 {
            "-".into()
        } else if self.is_noisy() {
            format!("{:.1}% ⚠", 100.0 * self.cv)
        } else {
            format!("{:.1}%", 100.0 * self.cv)
        }
    }
}

/// What `loadgen compare` and the charts measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Metric {
    /// Requests per second (higher is better).
    Rps,
    /// Server CPU microseconds per request (lower is better).
    Cpu,
    /// 99th percentile latency in µs (lower is better).
    P99,
}

impl Metric {
    /// The metric of one successful run (none if not measured, e.g. CPU without requests).
    pub fn of(self, record: &RunRecord) -> Option<f64> {
        match self {
            Metric::Rps => Some(record.requests_per_second),
            Metric::Cpu => record.server.cpu_us_per_request,
            Metric::P99 => record.percentile_us("99"),
        }
    }

    /// True if a larger value is an improvement.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::Rps)
    }

    /// Column name: `req/s`, `server CPU/req`, `p99`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Rps => "req/s",
            Metric::Cpu => "server CPU/req",
            Metric::P99 => "p99",
        }
    }

    /// Formats a value of this metric.
    pub fn format(self, value: f64) -> String {
        match self {
            Metric::Rps => super::format::format_rps(value),
            Metric::Cpu => super::format::format_cpu_us(value),
            Metric::P99 => super::format::format_latency_us(value),
        }
    }
}

/// Every repeat of one scenario × contender × threads.
#[derive(Debug, Clone)]
pub struct Point<'a> {
    /// Scenario id.
    pub scenario: String,
    /// Contender name.
    pub contender: String,
    /// Server threads.
    pub threads: usize,
    /// Repeats that were measured (successful or judged failed), in repeat order.
    pub records: Vec<&'a RunRecord>,
    /// Repeats that could not be measured (from `run.json`): the server did not start, ...
    pub unmeasured: Vec<&'a Skipped>,
}

impl<'a> Point<'a> {
    /// The successful repeats.
    pub fn ok(&self) -> impl Iterator<Item = &'a RunRecord> + '_ {
        self.records.iter().copied().filter(|r| !r.is_failed())
    }

    /// Repeats run (measured or not).
    pub fn runs(&self) -> usize {
        self.records.len() + self.unmeasured.len()
    }

    /// Repeats that failed.
    pub fn failed_runs(&self) -> usize {
        self.runs() - self.ok().count()
    }

    /// True if no repeat succeeded: the point is shown as failed, never as a result.
    pub fn is_failed(&self) -> bool {
        self.ok().next().is_none()
    }

    /// Why the repeats failed, one line: `no successful request (connect 2000)`; empty if none.
    pub fn failure(&self) -> String {
        let mut reasons: Vec<String> = self
            .records
            .iter()
            .filter_map(|r| r.failure.as_ref().map(|f| f.describe()))
            .chain(self.unmeasured.iter().map(|s| s.reason.clone()))
            .collect();
        reasons.dedup();
        reasons.join("; ")
    }

    /// The spread of `metric` over the successful repeats.
    pub fn spread(&self, metric: Metric) -> Option<Spread> {
        self.spread_by(|r| metric.of(r))
    }

    /// The spread of any per-run value over the successful repeats.
    pub fn spread_by(&self, value: impl Fn(&RunRecord) -> Option<f64>) -> Option<Spread> {
        let values: Vec<f64> = self.ok().filter_map(value).collect();
        Spread::of(&values)
    }

    /// The successful repeat whose req/s is the median (the one to quote), if any.
    pub fn median_run(&self) -> Option<&'a RunRecord> {
        let mut ok: Vec<&RunRecord> = self.ok().collect();
        ok.sort_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second));
        ok.get(ok.len().saturating_sub(1) / 2).copied()
    }
}

/// The points of a run, ordered like its records (scenario, contender, threads); runs listed as
/// failed in `run.json` without a record of their own become [`Point::unmeasured`].
pub fn points(run: &RunDir) -> Vec<Point<'_>> {
    let mut out: Vec<Point<'_>> = Vec::new();
    let find = |out: &mut Vec<Point<'_>>, scenario: &str, contender: &str, threads: usize| {
        out.iter().position(|p| {
            p.scenario == scenario && p.contender == contender && p.threads == threads
        })
    };
    for record in &run.records {
        let i = match find(
            &mut out,
            &record.scenario.id,
            &record.contender,
            record.threads,
        ) {
            Some(i) => i,
            None => {
                out.push(Point {
                    scenario: record.scenario.id.clone(),
                    contender: record.contender.clone(),
                    threads: record.threads,
                    records: Vec::new(),
                    unmeasured: Vec::new(),
                });
                out.len() - 1
            }
        };
        out[i].records.push(record);
    }
    let Some(manifest) = &run.manifest else {
        return out;
    };
    for failed in &manifest.failed {
        let Some(threads) = failed.threads else {
            continue;
        };
        let recorded = run.records.iter().any(|r| {
            r.scenario.id == failed.scenario
                && r.contender == failed.contender
                && r.threads == threads
                && Some(r.repeat) == failed.repeat
        });
        if recorded {
            continue;
        }
        match find(&mut out, &failed.scenario, &failed.contender, threads) {
            Some(i) => out[i].unmeasured.push(failed),
            None => out.push(Point {
                scenario: failed.scenario.clone(),
                contender: failed.contender.clone(),
                threads,
                records: Vec::new(),
                unmeasured: vec![failed],
            }),
        }
    }
    let rank = |p: &Point<'_>| {
        (
            crate::bench::scenario::id_sort_key(&p.scenario),
            manifest
                .contenders
                .iter()
                .position(|c| c == &p.contender)
                .unwrap_or(usize::MAX),
            p.threads,
        )
    };
    out.sort_by_key(|p| rank(p));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_even_and_single() {
        let s = Spread::of(&[1.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.0);
        assert_eq!(s.display(|v| format!("{v}")), "2 (1–3)");
        let one = Spread::of(&[5.0]).unwrap();
        assert_eq!((one.cv, one.cv_display()), (0.0, "-".to_string()));
        assert_eq!(one.display(|v| format!("{v}")), "5");
    }
}
