//! `loadgen compare BASELINE NEW`: the regression gate. Compares two runs (directories of result
//! JSON) per scenario × contender × threads on one metric, and calls a change a regression only
//! when it exceeds both the threshold and the noise (the min–max ranges of the two runs' repeats do
//! not overlap). Exit status: 0 no regression, 1 a regression, 2 trouble (like `diff`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use crate::bench::results::{self, Metric, Point, RunDir, Spread, parse_percent};

/// Options of `loadgen compare`.
#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// The baseline run directory (or a results directory: its newest run).
    pub baseline: PathBuf,
    /// The run to judge (a run directory, or a results directory: its newest run).
    pub new: PathBuf,
    /// Smallest change that counts, relative to the baseline's median (e.g. `5%`).
    #[arg(long, value_name = "PERCENT", default_value = "5%", value_parser = parse_percent)]
    pub threshold: f64,
    /// What to compare: req/s, server CPU per request, or p99 latency.
    #[arg(long, value_enum, default_value_t = Metric::Rps)]
    pub metric: Metric,
    /// Print the comparison as JSON (for CI) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What a change is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// Worse beyond the threshold and the noise, or failed in the new run only.
    Regression,
    /// Better beyond the threshold and the noise, or failed in the baseline only.
    Improvement,
    /// Beyond the threshold, but the repeats' ranges overlap.
    WithinNoise,
    /// Within the threshold.
    Unchanged,
    /// Failed in both runs.
    FailedInBoth,
    /// In one run only.
    Missing,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Regression => "REGRESSION",
            Verdict::Improvement => "improvement",
            Verdict::WithinNoise => "within noise",
            Verdict::Unchanged => "unchanged",
            Verdict::FailedInBoth => "failed in both",
            Verdict::Missing => "missing",
        }
    }
}

/// One side of a row: the metric's spread over the successful repeats, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Side {
    /// Median over the successful repeats.
    pub median: Option<f64>,
    /// Smallest value.
    pub min: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
    /// Coefficient of variation.
    pub cv: Option<f64>,
    /// Successful repeats.
    pub runs: usize,
    /// Why every repeat failed, if they did.
    pub failed: Option<String>,
}

impl Side {
    fn of(point: &Point<'_>, metric: Metric) -> Side {
        let spread = point.spread(metric);
        Side {
            median: spread.map(|s| s.median),
            min: spread.map(|s| s.min),
            max: spread.map(|s| s.max),
            cv: spread.map(|s| s.cv),
            runs: spread.map_or(0, |s| s.n),
            failed: point.is_failed().then(|| point.failure()),
        }
    }

    fn spread(&self) -> Option<Spread> {
        Some(Spread {
            median: self.median?,
            min: self.min?,
            max: self.max?,
            cv: self.cv?,
            n: self.runs,
        })
    }

    fn display(&self, metric: Metric) -> String {
        match (self.spread(), &self.failed) {
            (Some(s), _) => s.display(|v| metric.format(v)),
            (None, Some(_)) => "FAILED".into(),
            (None, None) => "-".into(),
        }
    }
}

/// One scenario × contender × threads in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// Scenario id.
    pub scenario: String,
    /// Contender name.
    pub contender: String,
    /// Server threads.
    pub threads: usize,
    /// The baseline, if it has this point.
    pub baseline: Option<Side>,
    /// The new run, if it has this point.
    pub new: Option<Side>,
    /// (new median - baseline median) / baseline median.
    pub delta: Option<f64>,
    /// What the change is.
    pub verdict: Verdict,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    /// The metric compared (`rps`, `cpu`, `p99`).
    pub metric: String,
    /// The threshold, a fraction.
    pub threshold: f64,
    /// One row per point of either run.
    pub rows: Vec<Row>,
    /// Rows that are regressions.
    pub regressions: usize,
}

/// Judges one point present in both runs.
fn judge(base: &Side, new: &Side, metric: Metric, threshold: f64) -> (Option<f64>, Verdict) {
    let (b, n) = match (base.spread(), new.spread()) {
        (Some(b), Some(n)) => (b, n),
        (Some(_), None) if new.failed.is_some() => return (None, Verdict::Regression),
        (None, Some(_)) if base.failed.is_some() => return (None, Verdict::Improvement),
        (None, None) if base.failed.is_some() && new.failed.is_some() => {
            return (None, Verdict::FailedInBoth);
        }
        _ => return (None, Verdict::Missing),
    };
    if b.median == 0.0 {
        return (None, Verdict::Missing);
    }
    let delta = (n.median - b.median) / b.median;
    let beyond_noise = n.max < b.min || n.min > b.max;
    let verdict = if delta.abs() <= threshold {
        Verdict::Unchanged
    } else if !beyond_noise {
        Verdict::WithinNoise
    } else if (delta < 0.0) == metric.higher_is_better() {
        Verdict::Regression
    } else {
        Verdict::Improvement
    };
    (Some(delta), verdict)
}

/// Compares two runs on `metric`.
///
/// ```no_run
/// use loadgen::bench::{compare, results};
///
/// let base = results::read_run_dir("results/2026-11-26T000000Z".as_ref())?;
/// let new = results::read_run_dir("results/2026-11-27T000000Z".as_ref())?;
/// let c = compare::compare(&base, &new, results::Metric::Rps, 0.05);
/// println!("{} regression(s)", c.regressions);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn compare(baseline: &RunDir, new: &RunDir, metric: Metric, threshold: f64) -> Comparison {
    let base_points = results::points(baseline);
    let new_points = results::points(new);
    let key = |p: &Point<'_>| (p.scenario.clone(), p.contender.clone(), p.threads);
    let mut rows = Vec::new();
    for b in &base_points {
        let n = new_points.iter().find(|n| key(n) == key(b));
        let base = Side::of(b, metric);
        let new = n.map(|n| Side::of(n, metric));
        let (delta, verdict) = match &new {
            Some(new) => judge(&base, new, metric, threshold),
            None => (None, Verdict::Missing),
        };
        rows.push(Row {
            scenario: b.scenario.clone(),
            contender: b.contender.clone(),
            threads: b.threads,
            baseline: Some(base),
            new,
            delta,
            verdict,
        });
    }
    for n in new_points
        .iter()
        .filter(|n| !base_points.iter().any(|b| key(b) == key(n)))
    {
        rows.push(Row {
            scenario: n.scenario.clone(),
            contender: n.contender.clone(),
            threads: n.threads,
            baseline: None,
            new: Some(Side::of(n, metric)),
            delta: None,
            verdict: Verdict::Missing,
        });
    }
    let regressions = rows
        .iter()
        .filter(|r| r.verdict == Verdict::Regression)
        .count();
    Comparison {
        metric: format!("{metric:?}").to_lowercase(),
        threshold,
        rows,
        regressions,
    }
}

/// The comparison as a plain-text table.
pub fn table(c: &Comparison, metric: Metric) -> String {
    let mut rows = vec![[
        "scenario".to_string(),
        "contender".into(),
        "t".into(),
        format!("baseline {}", metric.name()),
        format!("new {}", metric.name()),
        "delta".into(),
        "verdict".into(),
    ]];
    let side = |s: &Option<Side>| s.as_ref().map_or("-".into(), |s| s.display(metric));
    for r in &c.rows {
        rows.push([
            r.scenario.clone(),
            r.contender.clone(),
            r.threads.to_string(),
            side(&r.baseline),
            side(&r.new),
            r.delta
                .map_or("-".into(), |d| format!("{:+.1}%", 100.0 * d)),
            r.verdict.as_str().into(),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let pad = " ".repeat(widths[i] - cell.chars().count());
                if i < 2 || i == 6 {
                    format!("{cell}{pad}")
                } else {
                    format!("{pad}{cell}")
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} regression(s): changes beyond {}% whose repeats' min–max ranges do not overlap \
         (ranges over the successful repeats; a run with one repeat has no noise estimate).\n",
        c.regressions,
        100.0 * c.threshold
    ));
    out
}

/// Runs `loadgen compare`: prints the table (or JSON) and returns exit status 1 if there is a
/// regression, 0 otherwise.
pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let read = |dir: &PathBuf| -> anyhow::Result<RunDir> {
        let dir = results::resolve_run_dir(dir)?;
        results::read_run_dir(&dir).with_context(|| format!("reading {}", dir.display()))
    };
    let baseline = read(&args.baseline)?;
    let new = read(&args.new)?;
    let c = compare(&baseline, &new, args.metric, args.threshold);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        println!(
            "baseline {}\nnew      {}\n",
            baseline.dir.display(),
            new.dir.display()
        );
        print!("{}", table(&c, args.metric));
    }
    Ok(if c.regressions > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(values: &[f64]) -> Side {
        let s = Spread::of(values).unwrap();
        Side {
            median: Some(s.median),
            min: Some(s.min),
            max: Some(s.max),
            cv: Some(s.cv),
            runs: s.n,
            failed: None,
        }
    }

    #[test]
    fn threshold_and_noise() {
        let base = side(&[100.0, 102.0, 98.0]);
        // 20% fewer req/s, ranges apart: a regression; for CPU (lower is better) an improvement.
        let worse = side(&[80.0, 81.0, 79.0]);
        assert_eq!(
            judge(&base, &worse, Metric::Rps, 0.05).1,
            Verdict::Regression
        );
        assert_eq!(
            judge(&base, &worse, Metric::Cpu, 0.05).1,
            Verdict::Improvement
        );
        // 10% fewer by the median, but the ranges overlap: noise.
        let noisy = side(&[90.0, 60.0, 99.0]);
        assert_eq!(
            judge(&base, &noisy, Metric::Rps, 0.05).1,
            Verdict::WithinNoise
        );
        // Within the threshold.
        let same = side(&[97.0, 99.0, 101.0]);
        assert_eq!(judge(&base, &same, Metric::Rps, 0.05).1, Verdict::Unchanged);
        let failed = Side {
            failed: Some("no successful request".into()),
            ..side(&[1.0])
        };
        let failed = Side {
            median: None,
            min: None,
            max: None,
            cv: None,
            runs: 0,
            ..failed
        };
        assert_eq!(
            judge(&base, &failed, Metric::Rps, 0.05).1,
            Verdict::Regression
        );
        assert_eq!(
            judge(&failed, &failed, Metric::Rps, 0.05).1,
            Verdict::FailedInBoth
        );
    }
}
