//! Charts of a run directory (pure Rust: plotters' bitmap backend and the DejaVu Sans font shipped
//! in `assets/fonts/`), and `results/README.md`.
//!
//! Per scenario: `scenario-<id>-rps.png`, a grouped bar chart of req/s by server thread count, one
//! bar per contender (like the Go project's test01..test06 charts), and
//! `scenario-<id>-latency.png`, the latency percentile spectrum (log-log) of every contender.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::bench::results::{self, RunDir, RunRecord, chart_files, format_latency_us, format_rps};

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";
const SIZE: (u32, u32) = (1000, 600);
/// Pixels under the chart for the footer line (scenario, placement, CPU).
const FOOTER: u32 = 20;

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
    let run_dir = if dir.join(results::MANIFEST).is_file() {
        dir
    } else {
        results::latest_run_dir(&dir).with_context(|| {
            format!(
                "no run directory (with {}) in {}",
                results::MANIFEST,
                dir.display()
            )
        })?
    };
    let written = plot_run(&run_dir)?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Draws every chart of a run directory and writes `README.md` into its parent directory.
/// Returns the files written.
pub fn plot_run(run_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let run = results::read_run_dir(run_dir)?;
    let mut written = Vec::new();
    let mut scenario_ids: Vec<String> = run.records.iter().map(|r| r.scenario.id.clone()).collect();
    scenario_ids.dedup();
    for id in &scenario_ids {
        let records: Vec<&RunRecord> = run
            .records
            .iter()
            .filter(|r| &r.scenario.id == id)
            .collect();
        let (rps_file, latency_file) = chart_files(id);
        let path = run_dir.join(rps_file);
        rps_chart(&path, &records).with_context(|| format!("drawing {}", path.display()))?;
        written.push(path);
        let path = run_dir.join(latency_file);
        latency_chart(&path, &records).with_context(|| format!("drawing {}", path.display()))?;
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
fn axes(records: &[&RunRecord]) -> (Vec<String>, Vec<usize>) {
    let mut contenders: Vec<String> = Vec::new();
    let mut threads: Vec<usize> = Vec::new();
    for r in records {
        if !contenders.contains(&r.contender) {
            contenders.push(r.contender.clone());
        }
        if !threads.contains(&r.threads) {
            threads.push(r.threads);
        }
    }
    threads.sort_unstable();
    (contenders, threads)
}

fn title(records: &[&RunRecord]) -> String {
    records.first().map_or_else(String::new, |r| {
        format!("Scenario {}: {}", r.scenario.id, r.scenario.name)
    })
}

fn rps_chart(path: &Path, records: &[&RunRecord]) -> anyhow::Result<()> {
    register_font()?;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (contenders, threads) = axes(records);
    let max = records
        .iter()
        .map(|r| r.requests_per_second)
        .fold(0.0, f64::max)
        .max(1.0);
    let groups = threads.len() as f64;
    let (area, _) = root.split_vertically(SIZE.1 - FOOTER);
    let mut chart = ChartBuilder::on(&area)
        .caption(
            format!("{} — requests/s (higher is better)", title(records)),
            (FAMILY, 22),
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
        .y_label_formatter(&|v| format_rps(*v))
        .y_desc("requests / second")
        .label_style((FAMILY, 15))
        .draw()?;

    let bar_width = 0.8 / contenders.len().max(1) as f64;
    let value_style =
        TextStyle::from((FAMILY, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (ci, contender) in contenders.iter().enumerate() {
        let color = COLORS[ci % COLORS.len()];
        let bars: Vec<(f64, f64)> = records
            .iter()
            .filter(|r| &r.contender == contender)
            .filter_map(|r| {
                let group = threads.iter().position(|&t| t == r.threads)? as f64;
                Some((group + 0.1 + ci as f64 * bar_width, r.requests_per_second))
            })
            .collect();
        chart
            .draw_series(bars.iter().map(|&(x, v)| {
                Rectangle::new([(x, 0.0), (x + bar_width * 0.92, v)], color.filled())
            }))?
            .label(contender.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
        chart.draw_series(bars.iter().map(|&(x, v)| {
            Text::new(
                format_rps(v),
                (x + bar_width * 0.46, v),
                value_style.clone(),
            )
        }))?;
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
    draw_footer(&root, records)?;
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

fn latency_chart(path: &Path, records: &[&RunRecord]) -> anyhow::Result<()> {
    register_font()?;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (contenders, threads) = axes(records);
    let series: Vec<(&RunRecord, Vec<(f64, f64)>)> = records
        .iter()
        .map(|r| (*r, latency_points(r)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    let (mut lo, mut hi, mut right) = (f64::MAX, 1.0f64, 10.0f64);
    for (_, points) in &series {
        for &(x, y) in points {
            lo = lo.min(y);
            hi = hi.max(y);
            right = right.max(x);
        }
    }
    if lo == f64::MAX {
        lo = 1.0;
    }
    let (area, _) = root.split_vertically(SIZE.1 - FOOTER);
    let mut chart = ChartBuilder::on(&area)
        .caption(
            format!(
                "{} — latency by percentile (lower is better)",
                title(records)
            ),
            (FAMILY, 22),
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
    for (r, points) in &series {
        let ci = contenders
            .iter()
            .position(|c| c == &r.contender)
            .unwrap_or(0);
        let ti = threads.iter().position(|&t| t == r.threads).unwrap_or(0);
        let color = COLORS[ci % COLORS.len()];
        // Thread counts of one contender: same color, thinner for fewer threads.
        let width = if many_threads { 1 + ti as u32 } else { 2 };
        let style = ShapeStyle::from(&color).stroke_width(width);
        let label = format!("{} t{}", r.contender, r.threads);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(width))
            });
    }
    draw_legend(&mut chart)?;
    draw_footer(&root, records)?;
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
    records: &[&RunRecord],
) -> anyhow::Result<()> {
    let Some(r) = records.first() else {
        return Ok(());
    };
    let text = format!(
        "{}; server CPU {}, client CPU {}; {}",
        r.scenario.summary(),
        results::cpu_list(&r.server_cpus),
        results::cpu_list(&r.client_cpus),
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
