//! Benchmark results: one JSON file per scenario × contender × threads × repeat in a run directory
//! `results/<UTC timestamp>/`, plus `run.json` (machine, CPU placement, skipped and failed runs),
//! and the generated `results/README.md`.
//!
//! - `model`: what a result file holds ([`RunRecord`], [`RunManifest`]) and when a run failed
//!   ([`Failure::judge`]).
//! - `store`: reading and writing run directories.
//! - `spread`: repeats summarized per scenario × contender × threads ([`Point`], [`Spread`]).
//! - `readme`: the README renderer and the chart file names.
//! - `format`: numbers as tables show them (timestamps: [`crate::units`]).

mod format;
mod model;
mod readme;
mod spread;
mod store;

pub use format::{format_cpu_us, format_latency_us, format_rps, parse_percent};
pub use model::{
    DEFAULT_FAIL_THRESHOLD, Failure, MANIFEST, RunManifest, RunRecord, ServerUsage, Skipped,
};
pub use readme::{ChartFiles, TABLE_COLUMNS, chart_files, readme, table_cells};
pub use spread::{Metric, NOISY_CV, Point, Spread, points};
pub use store::{
    RunDir, latest_run_dir, read_run_dir, record_file_name, resolve_run_dir, write_json,
    write_record,
};
