//! Run reports: the JSON model (bombardier's schema plus additions), plain-text printing, user
//! templates (`-o path:FILE`), and exact merging of several processes' reports.

mod histogram;
mod merge;
mod model;
mod plain;
mod template;

pub(crate) use merge::Totals;
pub use merge::{MergeError, merge};
pub use template::{TemplateError, UserTemplate};

pub use histogram::{
    HistogramError, LATENCY_PERCENTILES, RPS_PERCENTILES, decode_histogram, encode_histogram,
    latency_stats, new_latency_histogram, rps_stats,
};

pub use model::{
    ErrorClasses, ErrorCount, LatencyStats, Report, RpsStats, RunResult, Spec, SpecHeader,
    TimelinePoint,
};
