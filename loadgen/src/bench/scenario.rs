//! Benchmark scenarios: one small TOML file each in `scenarios/` (`scenarios/3.toml`, ...).
//!
//! A scenario says what the server must do per request (payload size, AES, sleep, TLS) and how the
//! client loads it (connections, keep-alive, duration). A user adds a scenario by adding a file:
//!
//! ```toml
//! id = "7"                        # optional, defaults to the file name without `.toml`
//! name = "static 64 kB, throughput"
//! description = "..."
//! connections = 1000              # default 1000
//! keep_alive = true
//! payload = 65536                 # response body bytes
//! aes128 = false                  # encrypt the body with AES-128-CBC per request
//! sleep_ms = 0                    # handler sleeps before answering
//! tls = false                     # HTTPS with a self-signed certificate
//! duration = "10s"                # measured time (default 10s)
//! warmup = "2s"                   # load before measuring (default 2s)
//! ```
//!
//! Unknown fields and bad values are errors that name the file and the field.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::units::{format_duration, parse_duration};

/// One benchmark scenario, as read from its TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short id used on the command line (`--scenario 1t`) and in file names.
    #[serde(default)]
    pub id: String,
    /// One-line title, used in charts.
    pub name: String,
    /// Longer explanation.
    #[serde(default)]
    pub description: String,
    /// Concurrent client connections.
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// HTTP keep-alive: `false` means one request per TCP connection.
    pub keep_alive: bool,
    /// Response body size in bytes.
    pub payload: usize,
    /// Encrypt the body with AES-128-CBC on every request.
    #[serde(default)]
    pub aes128: bool,
    /// Sleep this many milliseconds in the handler before answering.
    #[serde(default)]
    pub sleep_ms: u64,
    /// Serve HTTPS (TLS 1.3, self-signed certificate).
    #[serde(default)]
    pub tls: bool,
    /// Measured load time.
    #[serde(
        default = "default_duration",
        serialize_with = "serialize_duration",
        deserialize_with = "deserialize_duration"
    )]
    pub duration: Duration,
    /// Load applied before measuring (not recorded).
    #[serde(
        default = "default_warmup",
        serialize_with = "serialize_duration",
        deserialize_with = "deserialize_duration"
    )]
    pub warmup: Duration,
    /// Load with HTTP/2 (over TLS when `tls`, else h2c with prior knowledge).
    #[serde(default)]
    pub http2: bool,
    /// HTTP/2: concurrent streams per connection.
    #[serde(default = "default_one")]
    pub streams: u32,
    /// HTTP/1.1: requests in flight per connection (1 = no pipelining).
    #[serde(default = "default_one")]
    pub pipeline: u32,
    /// SHA-256 of the scenario file's bytes, hex (set when the file is read, not a TOML key).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_sha256: String,
}

fn default_one() -> u32 {
    1
}
fn default_connections() -> usize {
    1000
}
fn default_duration() -> Duration {
    Duration::from_secs(10)
}
fn default_warmup() -> Duration {
    Duration::from_secs(2)
}

/// What a server must be able to do for a scenario; contenders declare the features they support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// Encrypt each response with AES-128-CBC.
    Aes128,
    /// Sleep in the handler.
    Sleep,
    /// Serve over TLS.
    Tls,
    /// Speak HTTP/2 (over TLS with ALPN `h2`, or h2c with prior knowledge).
    Http2,
}

impl Feature {
    /// All features, in a stable order.
    pub const ALL: [Feature; 4] = [
        Feature::Aes128,
        Feature::Sleep,
        Feature::Tls,
        Feature::Http2,
    ];

    /// The name used in contender declarations (`aes128`, `sleep`, `tls`, `http2`).
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Aes128 => "aes128",
            Feature::Sleep => "sleep",
            Feature::Tls => "tls",
            Feature::Http2 => "http2",
        }
    }

    /// Parses a feature name as written in a contender declaration.
    pub fn parse(s: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Scenario {
    /// Parses a scenario from TOML text; `origin` (usually the file path) is named in errors, and
    /// its file stem is the default id.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Scenario, ScenarioError> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            file: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        if scenario.id.is_empty() {
            scenario.id = origin
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        scenario.file_sha256 = sha256_hex(text.as_bytes());
        scenario.validate(origin)?;
        Ok(scenario)
    }

    /// Reads and parses one scenario file.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::from_toml(&text, path)
    }

    fn validate(&self, origin: &Path) -> Result<(), ScenarioError> {
        let invalid = |field: &'static str, message: String| ScenarioError::Invalid {
            file: origin.to_path_buf(),
            field,
            message,
        };
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                "id",
                format!(
                    "`{}` must be non-empty ASCII letters, digits, - or _",
                    self.id
                ),
            ));
        }
        if self.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty".into()));
        }
        if self.streams == 0 || (self.streams > 1 && !self.http2) {
            return Err(invalid(
                "streams",
                "must be at least 1, and needs http2".into(),
            ));
        }
        if self.pipeline == 0 || (self.pipeline > 1 && (self.http2 || !self.keep_alive)) {
            return Err(invalid(
                "pipeline",
                "must be at least 1; pipelining needs HTTP/1.1 with keep-alive".into(),
            ));
        }
        if self.connections == 0 {
            return Err(invalid("connections", "must be at least 1".into()));
        }
        if self.payload > 64 << 20 {
            return Err(invalid(
                "payload",
                format!("{} bytes is more than 64 MiB", self.payload),
            ));
        }
        if self.duration.is_zero() {
            return Err(invalid("duration", "must be longer than 0s".into()));
        }
        Ok(())
    }

    /// The features a server needs for this scenario.
    pub fn required_features(&self) -> BTreeSet<Feature> {
        let mut features = BTreeSet::new();
        if self.aes128 {
            features.insert(Feature::Aes128);
        }
        if self.sleep_ms > 0 {
            features.insert(Feature::Sleep);
        }
        if self.tls {
            features.insert(Feature::Tls);
        }
        if self.http2 {
            features.insert(Feature::Http2);
        }
        features
    }

    /// A one-line summary: `1000 conns, keep-alive off, 1024 B, aes128, 10s (+2s warm-up)`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} conns, keep-alive {}, {} B",
            self.connections,
            if self.keep_alive { "on" } else { "off" },
            self.payload
        );
        if self.aes128 {
            s.push_str(", aes128");
        }
        if self.sleep_ms > 0 {
            s.push_str(&format!(", sleep {} ms", self.sleep_ms));
        }
        if self.tls {
            s.push_str(", tls");
        }
        s.push_str(&format!(", {}", format_duration(self.duration)));
        if !self.warmup.is_zero() {
            s.push_str(&format!(" (+{} warm-up)", format_duration(self.warmup)));
        }
        s
    }
}

/// Errors reading scenario files.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed, has an unknown field or a value of the wrong type.
    #[error("invalid scenario file {file}: {message}")]
    Parse {
        /// The file.
        file: PathBuf,
        /// The parser's message (names the field and shows the line).
        message: String,
    },
    /// A field has a value out of range.
    #[error("invalid scenario file {file}: field `{field}`: {message}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Two files declare the same id.
    #[error("scenario id `{id}` is declared twice: {first} and {second}")]
    DuplicateId {
        /// The id.
        id: String,
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
    /// `--scenario` named an id no file declares.
    #[error("no scenario `{id}` (known: {known})")]
    Unknown {
        /// The requested id.
        id: String,
        /// The known ids, comma-separated.
        known: String,
    },
}

/// SHA-256 of `bytes`, lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            use std::fmt::Write;
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// The scenario files built into the binary (a copy of `scenarios/*.toml` at build time), used when
/// no `scenarios/` directory is found at run time.
pub fn builtin() -> Result<Vec<Scenario>, ScenarioError> {
    let files: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_scenarios.rs"));
    let mut out = Vec::new();
    for (name, text) in files {
        out.push(Scenario::from_toml(text, Path::new(name))?);
    }
    check_unique_and_sort(out.into_iter().map(|s| (s, PathBuf::from("(built in)"))))
}

/// Reads every `*.toml` file of `dir` (not recursive), sorted by id (`1`..`6`, then `1t`, `2t`).
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let read_err = |source| ScenarioError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut parsed = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
            parsed.push((Scenario::from_file(&path)?, path));
        }
    }
    check_unique_and_sort(parsed.into_iter())
}

fn check_unique_and_sort(
    parsed: impl Iterator<Item = (Scenario, PathBuf)>,
) -> Result<Vec<Scenario>, ScenarioError> {
    let mut seen: Vec<(Scenario, PathBuf)> = Vec::new();
    for (scenario, path) in parsed {
        if let Some((_, first)) = seen.iter().find(|(s, _)| s.id == scenario.id) {
            return Err(ScenarioError::DuplicateId {
                id: scenario.id,
                first: first.clone(),
                second: path,
            });
        }
        seen.push((scenario, path));
    }
    let mut out: Vec<Scenario> = seen.into_iter().map(|(s, _)| s).collect();
    out.sort_by_key(|a| id_sort_key(&a.id));
    Ok(out)
}

/// Sort key for ids: plain numbers first in numeric order, then the rest (`1t`, `2t`, names).
pub fn id_sort_key(id: &str) -> (bool, u64, String) {
    match id.parse::<u64>() {
        Ok(n) => (false, n, String::new()),
        Err(_) => {
            let digits: String = id.chars().take_while(|c| c.is_ascii_digit()).collect();
            (true, digits.parse().unwrap_or(u64::MAX), id.to_string())
        }
    }
}

/// The scenarios directory: `./scenarios` if present, else the source tree's `scenarios/` (for
/// `cargo run` from elsewhere), else `None` (use [`builtin`]).
pub fn default_dir() -> Option<PathBuf> {
    let local = PathBuf::from("scenarios");
    if local.is_dir() {
        return Some(local);
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    source.is_dir().then_some(source)
}

/// Loads the scenarios from `dir`, or from [`default_dir`], or the built-in copies.
pub fn load(dir: Option<&Path>) -> Result<Vec<Scenario>, ScenarioError> {
    match dir.map(Path::to_path_buf).or_else(default_dir) {
        Some(dir) => load_dir(&dir),
        None => builtin(),
    }
}

/// Selects scenarios by a comma-separated list of ids, or `all`.
pub fn select(all: &[Scenario], wanted: &str) -> Result<Vec<Scenario>, ScenarioError> {
    if wanted.trim() == "all" {
        return Ok(all.to_vec());
    }
    let mut out = Vec::new();
    for id in wanted.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match all.iter().find(|s| s.id == id) {
            Some(s) => out.push(s.clone()),
            None => {
                return Err(ScenarioError::Unknown {
                    id: id.to_string(),
                    known: all
                        .iter()
                        .map(|s| s.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    Ok(out)
}

fn serialize_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

fn deserialize_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_order_numbers_then_suffixes() {
        let mut ids = vec!["2t", "6", "1t", "10", "1", "2"];
        ids.sort_by_key(|a| id_sort_key(a));
        assert_eq!(ids, ["1", "2", "6", "10", "1t", "2t"]);
    }

    #[test]
    fn builtin_scenarios_parse() {
        let all = builtin().unwrap();
        let ids: Vec<_> = all.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3", "4", "5", "6", "1t", "2h2", "2p", "2t"]);
    }
}
