//! Reading and writing run directories: `results/<UTC timestamp>/` with `run.json` and one JSON
//! file per scenario × contender × threads × repeat.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::model::{MANIFEST, RunManifest, RunRecord};

/// A run directory read back.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The directory.
    pub dir: PathBuf,
    /// `run.json`, if present.
    pub manifest: Option<RunManifest>,
    /// The records, ordered by scenario, contender (manifest order), threads, repeat.
    pub records: Vec<RunRecord>,
}

/// The file name of a record: `<scenario>-<contender>-t<threads>-r<repeat>.json`.
pub fn record_file_name(scenario: &str, contender: &str, threads: usize, repeat: usize) -> String {
    format!("{scenario}-{contender}-t{threads}-r{repeat}.json")
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
        record.repeat,
    ));
    write_json(&path, record)?;
    Ok(path)
}

/// Reads a run directory: `run.json` and every other `*.json` as a [`RunRecord`].
pub fn read_run_dir(dir: &Path) -> anyhow::Result<RunDir> {
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
            .then(a.repeat.cmp(&b.repeat))
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

/// A run directory, or a results directory standing for its newest run.
pub fn resolve_run_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    if dir.join(MANIFEST).is_file() {
        return Ok(dir.to_path_buf());
    }
    latest_run_dir(dir)
        .with_context(|| format!("no run directory (with {MANIFEST}) in {}", dir.display()))
}
