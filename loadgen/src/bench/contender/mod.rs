//! Contenders: the servers a scenario is run against.
//!
//! Built in: `tcpserver-per-core` and `tcpserver-shared` (the responder on tcpserver, one per runtime
//! model) and `hyper` (a minimal hyper 1.x server with the same options), all started as
//! `loadgen serve <tcpserver|hyper> ...` child processes. External servers are command templates:
//!
//! - `--contender 'name=cmd --listen {addr} --payload {payload}'` (plain scenarios only),
//! - `--contender 'name[tls,aes128,sleep]=cmd ...'` (declares the optional features it can do),
//! - `--contender nginx` or `--contender path/to/file.toml`: a contender file
//!   (`scenarios/contenders/<name>.toml` with `name`, `description`, `features`, `command`).
//!
//! Placeholders in commands: see [`Placeholders`].

mod hyper_server;
mod serve;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::bench::scenario::{Feature, Scenario};

pub(crate) use serve::self_signed;
pub use serve::{ServeArgs, ServeKind, serve_main};

/// A server the runner can start for a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Contender {
    /// Name in results, charts and file names.
    pub name: String,
    /// What it is.
    pub description: String,
    /// How to start it.
    pub kind: ContenderKind,
    /// Optional features it supports; scenarios needing others are skipped.
    pub features: BTreeSet<Feature>,
}

/// How a contender is started.
#[derive(Debug, Clone, PartialEq)]
pub enum ContenderKind {
    /// `loadgen serve tcpserver --runtime <runtime>`.
    Tcpserver {
        /// `per-core` or `shared`.
        runtime: &'static str,
    },
    /// `loadgen serve hyper`.
    Hyper,
    /// A shell command template, run with `sh -c` after placeholder substitution.
    External {
        /// The template.
        command: String,
        /// Directory of the contender file (`{dir}`), if it came from a file.
        dir: Option<PathBuf>,
    },
}

/// Names of the built-in contenders, in chart order.
pub const BUILTIN_NAMES: [&str; 3] = ["tcpserver-per-core", "tcpserver-shared", "hyper"];

impl Contender {
    /// The built-in contenders.
    pub fn builtins() -> Vec<Contender> {
        let all: BTreeSet<Feature> = Feature::ALL.into_iter().collect();
        // The responder speaks HTTP/1.1 only (pipelining included).
        let http1: BTreeSet<Feature> = all
            .iter()
            .copied()
            .filter(|f| *f != Feature::Http2)
            .collect();
        vec![
            Contender {
                name: BUILTIN_NAMES[0].into(),
                description:
                    "tcpserver responder, thread-per-core (SO_REUSEPORT listener per thread)".into(),
                kind: ContenderKind::Tcpserver {
                    runtime: "per-core",
                },
                features: http1.clone(),
            },
            Contender {
                name: BUILTIN_NAMES[1].into(),
                description: "tcpserver responder, shared multi-thread tokio runtime".into(),
                kind: ContenderKind::Tcpserver { runtime: "shared" },
                features: http1,
            },
            Contender {
                name: BUILTIN_NAMES[2].into(),
                description:
                    "minimal hyper 1.x server (HTTP/1.1 and HTTP/2), multi-thread tokio runtime"
                        .into(),
                kind: ContenderKind::Hyper,
                features: all,
            },
        ]
    }

    /// Parses a `--contender` value: `builtin` (all built-ins), a built-in name, `name=cmd`,
    /// `name[features]=cmd`, a contender file path, or the name of a file in `contenders_dir`.
    pub fn parse(
        spec: &str,
        contenders_dir: Option<&Path>,
    ) -> Result<Vec<Contender>, ContenderError> {
        let spec = spec.trim();
        if spec == "builtin" || spec == "builtins" {
            return Ok(Contender::builtins());
        }
        if let Some(builtin) = Contender::builtins().into_iter().find(|c| c.name == spec) {
            return Ok(vec![builtin]);
        }
        if let Some((head, command)) = spec.split_once('=') {
            let (name, features) = match head.split_once('[') {
                Some((name, rest)) => {
                    let list = rest.strip_suffix(']').ok_or_else(|| ContenderError::Spec {
                        spec: spec.into(),
                        message: "missing `]` after the feature list".into(),
                    })?;
                    (name.trim(), parse_features(list.split(','), spec)?)
                }
                None => (head.trim(), BTreeSet::new()),
            };
            check_name(name, spec)?;
            if command.trim().is_empty() {
                return Err(ContenderError::Spec {
                    spec: spec.into(),
                    message: "empty command".into(),
                });
            }
            return Ok(vec![Contender {
                name: name.into(),
                description: format!("external: {}", command.trim()),
                kind: ContenderKind::External {
                    command: command.trim().into(),
                    dir: None,
                },
                features,
            }]);
        }
        let as_path = PathBuf::from(spec);
        let file = if as_path.extension().is_some_and(|e| e == "toml") || as_path.is_file() {
            as_path
        } else {
            match contenders_dir {
                Some(dir) => dir.join(format!("{spec}.toml")),
                None => {
                    return Err(ContenderError::Spec {
                        spec: spec.into(),
                        message: format!(
                            "not a built-in contender ({}), not `name=command`, and no contenders \
                             directory to look for {spec}.toml",
                            BUILTIN_NAMES.join(", ")
                        ),
                    });
                }
            }
        };
        if !file.is_file() {
            return Err(ContenderError::Spec {
                spec: spec.into(),
                message: format!(
                    "not a built-in contender ({}), not `name=command`, and {} does not exist",
                    BUILTIN_NAMES.join(", "),
                    file.display()
                ),
            });
        }
        Ok(vec![Contender::from_file(&file)?])
    }

    /// Reads a contender file.
    pub fn from_file(path: &Path) -> Result<Contender, ContenderError> {
        let text = std::fs::read_to_string(path).map_err(|source| ContenderError::Read {
            path: path.into(),
            source,
        })?;
        let file: ContenderFile = toml::from_str(&text).map_err(|e| ContenderError::Parse {
            file: path.into(),
            message: e.to_string(),
        })?;
        let spec = path.display().to_string();
        check_name(&file.name, &spec)?;
        Ok(Contender {
            features: parse_features(file.features.iter().map(String::as_str), &spec)?,
            name: file.name,
            description: file.description,
            kind: ContenderKind::External {
                command: file.command,
                dir: path
                    .parent()
                    .map(|p| p.canonicalize().unwrap_or_else(|_| p.to_path_buf())),
            },
        })
    }

    /// The scenario features this contender lacks (empty: it can run the scenario).
    pub fn missing_features(&self, scenario: &Scenario) -> Vec<Feature> {
        scenario
            .required_features()
            .difference(&self.features)
            .copied()
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContenderFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    features: Vec<String>,
    command: String,
}

fn parse_features<'a>(
    list: impl Iterator<Item = &'a str>,
    spec: &str,
) -> Result<BTreeSet<Feature>, ContenderError> {
    let mut features = BTreeSet::new();
    for name in list.map(str::trim).filter(|s| !s.is_empty()) {
        if name == "static" {
            continue; // every contender serves static bodies
        }
        features.insert(Feature::parse(name).ok_or_else(|| ContenderError::Spec {
            spec: spec.into(),
            message: format!("unknown feature `{name}` (known: static, aes128, sleep, tls)"),
        })?);
    }
    Ok(features)
}

fn check_name(name: &str, spec: &str) -> Result<(), ContenderError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(ContenderError::Spec {
            spec: spec.into(),
            message: format!("contender name `{name}` must be ASCII letters, digits, -, _ or ."),
        });
    }
    Ok(())
}

/// Errors in contender declarations.
#[derive(Debug, thiserror::Error)]
pub enum ContenderError {
    /// A `--contender` value could not be understood.
    #[error("invalid --contender `{spec}`: {message}")]
    Spec {
        /// The value.
        spec: String,
        /// What is wrong.
        message: String,
    },
    /// A contender file could not be read.
    #[error("cannot read contender file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A contender file is malformed.
    #[error("invalid contender file {file}: {message}")]
    Parse {
        /// The file.
        file: PathBuf,
        /// The parser's message.
        message: String,
    },
}

/// Values substituted into external command templates.
///
/// | placeholder | value |
/// |---|---|
/// | `{addr}` `{host}` `{port}` | listen address, e.g. `127.0.0.1:40123` |
/// | `{scheme}` | `http` or `https` |
/// | `{payload}` | body size in bytes |
/// | `{keepalive}` | `on` / `off`; `{keepalive01}`: `1` / `0` |
/// | `{aes128}` `{tls}` | `true` / `false` |
/// | `{sleep_ms}` | handler sleep in ms |
/// | `{threads}` | server threads / workers |
/// | `{cpus}` | the server's CPU list, e.g. `0` or `0,1` |
/// | `{cert}` `{key}` | PEM files of a self-signed certificate for `localhost` / 127.0.0.1 |
/// | `{workdir}` | a fresh temporary directory for this run (configs, pid files, logs) |
/// | `{dir}` | directory of the contender file |
/// | `{bin}` | this loadgen executable |
#[derive(Debug, Clone)]
pub struct Placeholders {
    /// `(name, value)` pairs, without braces.
    pub values: Vec<(&'static str, String)>,
}

impl Placeholders {
    /// Replaces every `{name}` of the template; unknown placeholders are an error.
    pub fn substitute(&self, template: &str) -> Result<String, String> {
        let mut out = String::with_capacity(template.len() + 64);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                out.push_str(&rest[open..]);
                return Ok(out);
            };
            let name = &after[..close];
            if out.ends_with('$') {
                // Shell `${VAR}`: not ours.
                out.push_str(&rest[open..open + 2 + close]);
                rest = &after[close + 1..];
                continue;
            }
            match self.values.iter().find(|(n, _)| *n == name) {
                Some((_, value)) => out.push_str(value),
                None if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                    return Err(format!(
                        "unknown placeholder `{{{name}}}` (known: {})",
                        self.values
                            .iter()
                            .map(|(n, _)| format!("{{{n}}}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ));
                }
                // Not a placeholder (e.g. shell `${VAR}` or nginx config braces): keep it.
                None => out.push_str(&rest[open..open + 2 + close]),
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!(Contender::parse("builtin", None).unwrap().len(), 3);
        assert_eq!(
            Contender::parse("hyper", None).unwrap()[0].kind,
            ContenderKind::Hyper
        );
        let c = &Contender::parse("nginx[static, tls]=nginx -c {workdir}/x.conf", None).unwrap()[0];
        assert_eq!(c.name, "nginx");
        assert_eq!(c.features, [Feature::Tls].into_iter().collect());
        assert!(
            matches!(&c.kind, ContenderKind::External { command, .. } if command == "nginx -c {workdir}/x.conf")
        );
        let err = Contender::parse("x[gzip]=cmd", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("gzip"), "{err}");
        assert!(Contender::parse("nope", None).is_err());
    }

    #[test]
    fn substitutes_placeholders() {
        let p = Placeholders {
            values: vec![("addr", "127.0.0.1:1".into()), ("payload", "1024".into())],
        };
        assert_eq!(
            p.substitute("srv --listen {addr} -p {payload} ${HOME} {")
                .unwrap(),
            "srv --listen 127.0.0.1:1 -p 1024 ${HOME} {"
        );
        assert!(p.substitute("{nope}").unwrap_err().contains("{addr}"));
        assert_eq!(p.substitute("a { b }").unwrap(), "a { b }");
    }
}
