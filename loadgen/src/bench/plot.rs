//! Charts of a run directory (pure Rust: plotters' bitmap backend and the DejaVu Sans font shipped
//! in `assets/fonts/`), and `results/README.md`.
//!
//! Per scenario: `scenario-<id>-rps.png` and `scenario-<id>-cpu.png`, grouped bar charts of req/s
//! and of server CPU per request by server thread count, one bar per contender at the median of
//! the repeats with a min–max error bar (like the Go project's test01..test06 charts); and
//! `scenario-<id>-latency.png`, the latency percentile spectrum (log-log) of every repeat of every
//! contender. A contender whose repeats all failed gets a labelled empty slot in the bar charts and
//! a legend entry without a line in the latency chart.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::bench::results::{
    self, Metric, Point, RunDir, RunRecord, Spread, chart_files, format_latency_us,
};

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";
const SIZE: (u32, u32) = (1000, 600);
/// Pixels under the chart for the footer line (scenario, placement, CPU).
const FOOTER: u32 = 20;

/// Failed points.
const FAILED: RGBColor = RGBColor(200, 0, 0);

/// Colors per contender, in order (colorblind-friendly Okabe-Ito palette).
const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

fn register_font() -> anyhow::Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            if plotters::style::register_font(FAMILY, style, FONT).is_err() {
                result = Err(anyhow::anyhow!(
                    "the shipped font DejaVuSans.ttf is invalid"
                ));
            }
        }
    });
    result
}

/// `loadgen plot [DIR]`: draws the charts of run directory `DIR` (default: the newest run under
/// `results/`; a results directory picks its newest run) and writes `README.md` next to the run
/// directory.
pub fn main(dir: Option<PathBuf>) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(|| PathBuf::from("results"));
    let written = plot_run(&results::resolve_run_dir(&dir)?)?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Draws every chart of a run directory and writes `README.md` into its parent directory.
/// Returns the files written.
pub fn plot_run(run_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let run = results::read_run_dir(run_dir)?;
    let all = results::points(&run);
    let mut written = Vec::new();
    let mut scenario_ids: Vec<&str> = all.iter().map(|p| p.scenario.as_str()).collect();
    scenario_ids.dedup();
    for id in scenario_ids {
        let points: Vec<&Point<'_>> = all.iter().filter(|p| p.scenario == id).collect();
        let files = chart_files(id);
        let footer = run.records.iter().find(|r| r.scenario.id == id);
        let title = footer.map_or_else(
            || format!("Scenario {id}"),
            |r| format!("Scenario {}: {}", r.scenario.id, r.scenario.name),
        );
        for (file, metric) in [(&files.rps, Metric::Rps), (&files.cpu, Metric::Cpu)] {
            let path = run_dir.join(file);
            bar_chart(&path, &title, &points, metric, footer)
                .with_context(|| format!("drawing {}", path.display()))?;
            written.push(path);
        }
        let path = run_dir.join(&files.latency);
        latency_chart(&path, &title, &points, footer)
            .with_context(|| format!("drawing {}", path.display()))?;
        written.push(path);
    }
    written.push(write_readme(&run)?);
    Ok(written)
}

/// Writes `README.md` next to the run directory (`results/README.md` for `results/<run>/`).
pub fn write_readme(run: &RunDir) -> anyhow::Result<PathBuf> {
    let parent = run
        .dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = run
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into());
    let path = parent.join("README.md");
    std::fs::write(&path, results::readme(run, &name))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Contender names in first-seen order, and the sorted thread counts.
fn axes(points: &[&Point<'_>]) -> (Vec<String>, Vec<usize>) {
    let mut contenders: Vec<String> = Vec::new();
    let mut threads: Vec<usize> = Vec::new();
    for p in points {
        if !contenders.contains(&p.contender) {
            contenders.push(p.contender.clone());
        }
        if !threads.contains(&p.threads) {
            threads.push(p.threads);
        }
    }
    threads.sort_unstable();
    (contenders, threads)
}

/// A failure reason short enough for a legend.
fn short(reason: &str) -> String {
    const MAX: usize = 70;
    if reason.chars().count() <= MAX {
        reason.to_string()
    } else {
        format!("{}…", reason.chars().take(MAX - 1).collect::<String>())
    }
}

/// Grouped bars of `metric` by thread count: the median of the successful repeats, a min–max
/// error bar, and the label `failed` in the slot of a point without a successful repeat.
fn bar_chart(
    path: &Path,
    title: &str,
    points: &[&Point<'_>],
    metric: Metric,
    footer: Option<&RunRecord>,
) -> anyhow::Result<()> {
    register_font()?;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (contenders, threads) = axes(points);
    let max = points
        .iter()
        .filter_map(|p| p.spread(metric))
        .map(|s| s.max)
        .fold(0.0, f64::max);
    let max = if max > 0.0 { max } else { 1.0 };
    let groups = threads.len() as f64;
    let (area, _) = root.split_vertically(SIZE.1 - FOOTER);
    let (what, better) = match metric {
        Metric::Rps => ("requests/s", "higher"),
        Metric::Cpu => ("server CPU per request", "lower"),
        Metric::P99 => ("p99 latency", "lower"),
    };
    let repeats = points.iter().map(|p| p.runs()).max().unwrap_or(1);
    let spread_note = if repeats > 1 {
        format!("; median, min–max of {repeats} runs")
    } else {
        String::new()
    };
    let mut chart = ChartBuilder::on(&area)
        .caption(
            format!("{title} — {what} ({better} is better{spread_note})"),
            (FAMILY, 20),
        )
        .margin(15)
        .margin_right(40)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..groups, 0f64..max * 1.18)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_label_formatter(&|_| String::new())
        .y_label_formatter(&|v| metric.format(*v))
        .y_desc(match metric {
            Metric::Rps => "requests / second",
            Metric::Cpu => "server CPU µs / request",
            Metric::P99 => "p99 latency",
        })
        .label_style((FAMILY, 15))
        .draw()?;

    let bar_width = 0.8 / contenders.len().max(1) as f64;
    let value_style =
        TextStyle::from((FAMILY, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    let failed_style = TextStyle::from((FAMILY, 13).into_font())
        .color(&FAILED)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    for (ci, contender) in contenders.iter().enumerate() {
        let color = COLORS[ci % COLORS.len()];
        let slot = |p: &Point<'_>| -> Option<f64> {
            let group = threads.iter().position(|&t| t == p.threads)? as f64;
            Some(group + 0.1 + ci as f64 * bar_width)
        };
        let mine: Vec<&Point<'_>> = points
            .iter()
            .copied()
            .filter(|p| &p.contender == contender)
            .collect();
        let bars: Vec<(f64, Spread)> = mine
            .iter()
            .filter_map(|p| Some((slot(p)?, p.spread(metric)?)))
            .collect();
        chart
            .draw_series(bars.iter().map(|&(x, s)| {
                Rectangle::new([(x, 0.0), (x + bar_width * 0.92, s.median)], color.filled())
            }))?
            .label(contender.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
        // Min–max over the repeats: a vertical line with caps.
        let mid = |x: f64| x + bar_width * 0.46;
        let cap = bar_width * 0.18;
        chart.draw_series(bars.iter().filter(|(_, s)| s.n > 1).flat_map(|&(x, s)| {
            [
                vec![(mid(x), s.min), (mid(x), s.max)],
                vec![(mid(x) - cap, s.min), (mid(x) + cap, s.min)],
                vec![(mid(x) - cap, s.max), (mid(x) + cap, s.max)],
            ]
            .map(|line| PathElement::new(line, BLACK.stroke_width(2)))
        }))?;
        chart.draw_series(bars.iter().map(|&(x, s)| {
            let label = if s.is_noisy() {
                format!("{} ±{:.0}%", metric.format(s.median), 100.0 * s.cv)
            } else {
                metric.format(s.median)
            };
            Text::new(label, (mid(x), s.max), value_style.clone())
        }))?;
        // A point without a successful repeat: an empty slot that says so.
        chart.draw_series(
            mine.iter()
                .filter(|p| p.is_failed())
                .filter_map(|p| slot(p))
                .map(|x| Text::new("failed", (mid(x), 0.0), failed_style.clone())),
        )?;
    }
    draw_legend(&mut chart)?;

    // Group labels under the axis, in pixels of the root area.
    let label_style =
        TextStyle::from((FAMILY, 16).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (gi, t) in threads.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(gi as f64 + 0.5, 0.0));
        let text = format!("{t} thread{}", if *t == 1 { "" } else { "s" });
        root.draw(&Text::new(text, (px, py + 8), label_style.clone()))?;
    }
    draw_footer(&root, footer)?;
    root.present()?;
    Ok(())
}

/// Quantile points of a record's latency: `(1/(1-q), µs)` from the HDR histogram, or from the
/// report's fixed percentiles when the histogram is missing.
fn latency_points(record: &RunRecord) -> Vec<(f64, f64)> {
    const MAX_X: f64 = 1e5;
    if let Ok(hist) = crate::report::decode_histogram(&record.report.result.histogram)
        && !hist.is_empty()
    {
        let top = (1.0 / (1.0 - (hist.len() as f64 - 1.0) / hist.len() as f64)).min(MAX_X);
        return (0..=100)
            .map(|i| 10f64.powf(i as f64 * top.log10() / 100.0))
            .map(|x| {
                let q = 1.0 - 1.0 / x;
                (x, (hist.value_at_quantile(q) as f64).max(1.0))
            })
            .collect();
    }
    let mut points: Vec<(f64, f64)> = record
        .report
        .result
        .latency
        .percentiles
        .iter()
        .filter_map(|(k, v)| {
            let p: f64 = k.parse().ok()?;
            (p < 100.0).then(|| (100.0 / (100.0 - p), (*v as f64).max(1.0)))
        })
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

/// Latency by percentile: every successful repeat of every point (the median repeat bold and in
/// the legend, the others thin and light); a failed point is a legend entry without a line.
fn latency_chart(
    path: &Path,
    title: &str,
    points: &[&Point<'_>],
    footer: Option<&RunRecord>,
) -> anyhow::Result<()> {
    register_font()?;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (contenders, threads) = axes(points);
    type Curve = Vec<(f64, f64)>;
    let mut curves: Vec<(&Point<'_>, Curve, Vec<Curve>)> = Vec::new();
    for p in points {
        let Some(median) = p.median_run() else {
            continue;
        };
        let others = p
            .ok()
            .filter(|r| !std::ptr::eq(*r, median))
            .map(latency_points)
            .filter(|c| !c.is_empty())
            .collect();
        curves.push((p, latency_points(median), others));
    }
    let (mut lo, mut hi, mut right) = (f64::MAX, 1.0f64, 10.0f64);
    for (_, median, others) in &curves {
        for &(x, y) in median.iter().chain(others.iter().flatten()) {
            lo = lo.min(y);
            hi = hi.max(y);
            right = right.max(x);
        }
    }
    if lo == f64::MAX {
        lo = 1.0;
    }
    let (area, _) = root.split_vertically(SIZE.1 - FOOTER);
    let repeats = points.iter().map(|p| p.runs()).max().unwrap_or(1);
    let mut chart = ChartBuilder::on(&area)
        .caption(
            format!(
                "{title} — latency by percentile (lower is better{})",
                if repeats > 1 {
                    format!("; every run of {repeats}")
                } else {
                    String::new()
                }
            ),
            (FAMILY, 20),
        )
        .margin(15)
        .margin_right(40)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (1f64..right).log_scale(),
            ((lo / 1.5).max(1.0)..hi * 1.5).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|v| format_latency_us(*v))
        .x_desc("percentile")
        .y_desc("latency")
        .label_style((FAMILY, 15))
        .draw()?;
    let many_threads = threads.len() > 1;
    for (p, median, others) in &curves {
        let ci = contenders
            .iter()
            .position(|c| c == &p.contender)
            .unwrap_or(0);
        let ti = threads.iter().position(|&t| t == p.threads).unwrap_or(0);
        let color = COLORS[ci % COLORS.len()];
        for other in others {
            chart.draw_series(LineSeries::new(
                other.iter().copied(),
                ShapeStyle::from(&color.mix(0.35)).stroke_width(1),
            ))?;
        }
        // Thread counts of one contender: same color, thinner for fewer threads.
        let width = if many_threads { 1 + ti as u32 } else { 2 };
        let mut label = format!("{} t{}", p.contender, p.threads);
        if p.runs() > 1 {
            label.push_str(&format!(" (median of {} ok runs", p.ok().count()));
            if p.failed_runs() > 0 {
                label.push_str(&format!(", {} failed", p.failed_runs()));
            }
            label.push(')');
        }
        chart
            .draw_series(LineSeries::new(
                median.iter().copied(),
                ShapeStyle::from(&color).stroke_width(width),
            ))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(width))
            });
    }
    for p in points.iter().filter(|p| p.is_failed()) {
        chart
            .draw_series(LineSeries::new(
                std::iter::empty::<(f64, f64)>(),
                FAILED.stroke_width(2),
            ))?
            .label(format!(
                "{} t{}: FAILED, {}",
                p.contender,
                p.threads,
                short(&p.failure())
            ))
            .legend(|(x, y)| Cross::new((x + 9, y), 5, FAILED.stroke_width(2)));
    }
    draw_legend(&mut chart)?;
    draw_footer(&root, footer)?;
    root.present()?;
    Ok(())
}

fn draw_legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, CT>,
) -> anyhow::Result<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, 15))
        .draw()?;
    Ok(())
}

/// `1/(1-q)` -> `50%`, `90%`, `99%`, `99.9%`...
fn percentile_label(x: f64) -> String {
    if x <= 1.0 {
        return "0%".into();
    }
    let p = 100.0 * (1.0 - 1.0 / x);
    let digits = ((x.log10() - 2.0).ceil().max(0.0)) as usize;
    format!("{p:.digits$}%")
}

fn draw_footer(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    record: Option<&RunRecord>,
) -> anyhow::Result<()> {
    let Some(r) = record else {
        return Ok(());
    };
    let text = format!(
        "{}; server CPU {}, client CPU {}; {}",
        r.scenario.summary(),
        crate::units::format_cpu_list(&r.server_cpus),
        crate::units::format_cpu_list(&r.client_cpus),
        r.machine.cpu_model
    );
    let style = (FAMILY, 12)
        .into_font()
        .color(&RGBColor(90, 90, 90))
        .pos(Pos::new(HPos::Right, VPos::Bottom));
    root.draw(&Text::new(
        text,
        (SIZE.0 as i32 - 8, SIZE.1 as i32 - 4),
        style,
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(10000.0), "99.99%");
    }
}
