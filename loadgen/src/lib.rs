//! loadgen: a bombardier-compatible HTTP/1.1 load generator with exact HDR latency histograms,
//! and the tcpserver benchmark scenario runner.
//!
//! - [`attack`]: the load engine. Thread-per-core: every client thread runs its own
//!   current-thread tokio runtime with its share of the connections, records into its own HDR
//!   histograms (1 µs to 60 s, 3 significant digits), and the shares are merged at the end. The
//!   response parser ([`attack::response`]) is sans-I/O and allocation-free.
//! - [`report`]: the [`report::Report`] model (bombardier's JSON schema plus percentiles, error
//!   classes, the serialized histogram, a per-second timeline), plain-text output and exact
//!   merging of several processes' reports.
//! - `bench` (cargo feature `bench`, on by default): the benchmark layer on top of the load
//!   generator: scenarios, the runner, the contender servers, results, charts and the machine
//!   description. `--no-default-features` builds the load generator without it and its
//!   dependencies (plotters, toml, hyper, the responder).
//! - [`units`]: the one grammar of durations, CPU lists and start times used by every command
//!   line and scenario file.
//!
//! ```no_run
//! use std::time::Duration;
//! use loadgen::attack::{run, AttackConfig};
//!
//! let report = run(&AttackConfig {
//!     url: "http://127.0.0.1:8080/".into(),
//!     connections: 1000,
//!     duration: Some(Duration::from_secs(10)),
//!     threads: 1,
//!     ..Default::default()
//! })?;
//! println!("{:.0} req/s, p99 {} µs", report.result.rps.mean, report.result.latency.percentiles["99"]);
//! # Ok::<(), loadgen::attack::AttackError>(())
//! ```

pub mod attack;
#[cfg(feature = "bench")]
pub mod bench;
pub mod report;
mod sys;
pub mod units;
