//! The serde model of a run's result: bombardier's JSON schema plus our additions.
//!
//! Latency values are in microseconds (as in bombardier). Fields beyond bombardier's schema carry
//! `#[serde(default)]` so that older or foreign JSON (bombardier's own output, for instance) still
//! deserializes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One run's result, as printed with `-o json` and read back by `loadgen merge` and the runner.
///
/// ```
/// let json = r#"{"spec":{"numberOfConnections":1,"testType":"timed","method":"GET","url":"http://x/"},
///                "result":{"req2xx":5,"rps":{"mean":5.0}}}"#;
/// let report: loadgen::report::Report = serde_json::from_str(json).unwrap();
/// assert_eq!(report.result.req2xx, 5);
/// assert_eq!(report.result.rps.mean, 5.0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// What was asked for.
    pub spec: Spec,
    /// What happened.
    pub result: RunResult,
}

/// The test specification (bombardier's `spec` object plus `keepAlive` and `threads`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Spec {
    /// Number of concurrent connections (`-c`).
    pub number_of_connections: u64,
    /// `"timed"` (`-d`) or `"number-of-requests"` (`-n`).
    pub test_type: String,
    /// The request count asked for with `-n`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_requests: Option<u64>,
    /// The duration asked for with `-d`, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_duration_seconds: Option<f64>,
    /// HTTP method.
    pub method: String,
    /// Target URL.
    pub url: String,
    /// Extra request headers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<SpecHeader>,
    /// Request body (lossy UTF-8).
    pub body: String,
    /// Always false (kept for bombardier compatibility).
    pub stream: bool,
    /// Per-request timeout in seconds.
    pub timeout_seconds: f64,
    /// Client implementation name: `"loadgen"`.
    pub client: String,
    /// Whether connections were kept alive between requests.
    pub keep_alive: bool,
    /// The request rate asked for with `-r` (requests per second, all connections together).
    pub rate: Option<f64>,
    /// Number of client threads.
    pub threads: usize,
    /// `"HTTP/1.1"`, `"HTTP/2"` (over TLS) or `"h2c"`.
    pub protocol: String,
    /// HTTP/1.1: requests in flight per connection (`--pipeline`).
    pub pipeline: u32,
    /// HTTP/2: concurrent streams per connection (`--streams`).
    pub streams: u32,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            number_of_connections: 0,
            test_type: "timed".into(),
            number_of_requests: None,
            test_duration_seconds: None,
            method: "GET".into(),
            url: String::new(),
            headers: Vec::new(),
            body: String::new(),
            stream: false,
            timeout_seconds: 2.0,
            client: "loadgen".into(),
            keep_alive: true,
            rate: None,
            threads: 1,
            protocol: "HTTP/1.1".into(),
            pipeline: 1,
            streams: 1,
        }
    }
}

/// One request header of the spec, as bombardier writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpecHeader {
    /// Header name.
    pub key: String,
    /// Header value.
    pub value: String,
}

/// The `result` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RunResult {
    /// Bytes received (headers and bodies; TLS: plaintext).
    pub bytes_read: u64,
    /// Bytes sent.
    pub bytes_written: u64,
    /// Wall-clock time of the measured part of the run.
    pub time_taken_seconds: f64,
    /// Responses with a 1xx status.
    #[serde(rename = "req1xx")]
    pub req1xx: u64,
    /// Responses with a 2xx status.
    #[serde(rename = "req2xx")]
    pub req2xx: u64,
    /// Responses with a 3xx status.
    #[serde(rename = "req3xx")]
    pub req3xx: u64,
    /// Responses with a 4xx status.
    #[serde(rename = "req4xx")]
    pub req4xx: u64,
    /// Responses with a 5xx status.
    #[serde(rename = "req5xx")]
    pub req5xx: u64,
    /// Responses with any other status.
    pub others: u64,
    /// Errors by description (bombardier's list form of `errorClasses`).
    pub errors: Vec<ErrorCount>,
    /// Latency of completed requests in µs, measured from the actual send.
    pub latency: LatencyStats,
    /// Requests per second, sampled over fixed windows (see `rpsWindowMs`).
    pub rps: RpsStats,
    /// Completed requests (responses with any status), excluding errors and in-flight requests.
    pub requests: u64,
    /// Requests sent but not answered when the run ended (neither errors nor latency samples).
    pub in_flight_at_deadline: u64,
    /// `-r` mode: sends that left later than their scheduled time (by more than 1 ms).
    pub late_sends: u64,
    /// Error counts by class.
    pub error_classes: ErrorClasses,
    /// `-r` mode: latency from the intended send time (coordinated omission corrected, like wrk2).
    pub corrected_latency: Option<LatencyStats>,
    /// Base64 HdrHistogram (V2 deflate) of `latency`, in µs; merge these, never percentiles.
    pub histogram: String,
    /// Base64 HdrHistogram (V2 deflate) of `correctedLatency` (`-r` mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrected_histogram: Option<String>,
    /// Keep-alive off: time to establish each connection, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_latency: Option<LatencyStats>,
    /// Base64 HdrHistogram (V2 deflate) of `connectLatency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_histogram: Option<String>,
    /// Per-second timeline of the run.
    pub timeline: Vec<TimelinePoint>,
    /// User + system CPU time of the client process over the run (getrusage).
    pub client_cpu_seconds: f64,
    /// Wall-clock start of the measured part of the run, ms since the Unix epoch (used by merge).
    pub started_at_unix_ms: u64,
    /// Width of the windows the `rps` figures are sampled over, in ms.
    pub rps_window_ms: u64,
    /// Completed requests per `rpsWindowMs` window, in order (used by merge).
    pub rps_samples: Vec<u64>,
}

/// One entry of bombardier's `errors` list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorCount {
    /// Error description (our class name).
    pub description: String,
    /// How often it happened.
    pub count: u64,
}

/// Latency summary in µs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LatencyStats {
    /// Mean, µs.
    pub mean: f64,
    /// Standard deviation, µs.
    pub stddev: f64,
    /// Maximum, µs.
    pub max: f64,
    /// Percentiles keyed `"50"`, `"75"`, `"90"`, `"95"`, `"99"`, `"99.9"`, `"99.99"`, µs.
    pub percentiles: BTreeMap<String, u64>,
}

/// Requests-per-second summary over the sampling windows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RpsStats {
    /// Mean req/s (total requests / measured time).
    pub mean: f64,
    /// Standard deviation of the windowed req/s.
    pub stddev: f64,
    /// Highest windowed req/s.
    pub max: f64,
    /// Percentiles of the windowed req/s keyed `"50"`, `"75"`, `"90"`, `"95"`, `"99"`.
    pub percentiles: BTreeMap<String, f64>,
}

/// Error counts by class. Every attempt that does not end in a complete response (of any
/// status) counts exactly once, in one class:
///
/// | what happened | class |
/// |---|---|
/// | connection refused / unreachable / TLS handshake failed / connect timed out | `connect` |
/// | no complete response within `-t` (server stalls) | `timeout` |
/// | the write of the request failed (EPIPE, ECONNRESET while writing) | `write` |
/// | a read failed with anything but a reset | `read` |
/// | the response is not HTTP/1.x (garbage, bad `Content-Length`, bad chunking, head > 16 KiB) | `parse` |
/// | FIN before any response byte, FIN mid-head, FIN mid-body (except close-delimited bodies, which end at FIN), or RST (ECONNRESET) while reading | `peerClosed` |
/// | pipelining: the connection ended (FIN, RST, `Connection: close`) with the request still unanswered | `peerClosed` |
/// | HTTP/2: the server reset the stream (RST_STREAM) | `rstStream` |
/// | HTTP/2: the server sent GOAWAY and the stream was not answered | `goAway` |
/// | HTTP/2: a protocol error (bad frame, HPACK, flow control) ended the connection | `protocol` |
///
/// A target refusing the very first (probe) connection fails the whole run instead
/// ([`crate::attack::AttackError::Unreachable`]). Attempts in flight when a timed run ends are not
/// errors: they are counted in `inFlightAtDeadline`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorClasses {
    /// Could not connect (refused, unreachable, TLS handshake failed).
    pub connect: u64,
    /// No complete response within the timeout.
    pub timeout: u64,
    /// A read failed (reset, ...).
    pub read: u64,
    /// A write failed.
    pub write: u64,
    /// The response was not valid HTTP/1.x.
    pub parse: u64,
    /// The peer closed the connection before the response was complete.
    pub peer_closed: u64,
    /// HTTP/2: the server reset the stream (RST_STREAM).
    pub rst_stream: u64,
    /// HTTP/2: the server sent GOAWAY and did not answer the stream.
    pub go_away: u64,
    /// HTTP/2: a protocol or framing error ended the connection.
    pub protocol: u64,
}

impl ErrorClasses {
    /// Sum of all classes.
    pub fn total(&self) -> u64 {
        self.iter().iter().map(|(_, c)| c).sum()
    }

    /// `(name, count)` pairs in a fixed order.
    pub fn iter(&self) -> [(&'static str, u64); 9] {
        [
            ("connect", self.connect),
            ("timeout", self.timeout),
            ("read", self.read),
            ("write", self.write),
            ("parse", self.parse),
            ("peerClosed", self.peer_closed),
            ("rstStream", self.rst_stream),
            ("goAway", self.go_away),
            ("protocol", self.protocol),
        ]
    }

    /// bombardier's `errors` list: the non-zero classes.
    pub fn error_list(&self) -> Vec<ErrorCount> {
        self.iter()
            .into_iter()
            .filter(|(_, c)| *c > 0)
            .map(|(d, c)| ErrorCount {
                description: d.to_string(),
                count: c,
            })
            .collect()
    }

    /// Adds `other` class by class.
    pub fn add(&mut self, other: &ErrorClasses) {
        self.connect += other.connect;
        self.timeout += other.timeout;
        self.read += other.read;
        self.write += other.write;
        self.parse += other.parse;
        self.peer_closed += other.peer_closed;
        self.rst_stream += other.rst_stream;
        self.go_away += other.go_away;
        self.protocol += other.protocol;
    }
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimelinePoint {
    /// 1-based second of the measured run.
    pub second: u64,
    /// Requests completed in this second.
    pub requests: u64,
    /// Errors in this second.
    pub errors: u64,
    /// Median latency of this second, µs.
    pub p50: u64,
    /// 99th percentile latency of this second, µs.
    pub p99: u64,
}
