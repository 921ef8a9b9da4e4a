//! The benchmark layer: what runs the tcpserver benchmark suite on top of the load generator
//! ([`crate::attack`], [`crate::report`]).
//!
//! - [`scenario`]: the scenario files (`scenarios/*.toml`) and their model.
//! - [`runner`]: `loadgen --scenario ...`: starts each contender, loads it, records results.
//! - [`contender`]: the contender servers (built in, and external command templates).
//! - [`results`]: result files and the generated `results/README.md`.
//! - [`plot`]: the charts.
//! - [`machine`]: what a result records about the machine it ran on.
//! - [`compare`]: `loadgen compare`, the regression gate between two runs.

pub mod compare;
pub mod contender;
pub mod machine;
pub mod plot;
pub mod results;
pub mod runner;
pub mod scenario;
