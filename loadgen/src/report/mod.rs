//! Run reports: the JSON model (bombardier's schema plus additions), plain-text printing, and
//! exact merging of several processes' reports.

mod model;

pub use model::{
    ErrorClasses, ErrorCount, LatencyStats, Report, RpsStats, RunResult, Spec, SpecHeader,
    TimelinePoint,
};
