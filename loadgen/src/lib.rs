//! loadgen: a bombardier-compatible HTTP/1.1 load generator with exact HDR latency histograms,
//! and the tcpserver benchmark scenario runner.

pub mod attack;
pub mod contender;
pub mod machine;
pub mod plot;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
