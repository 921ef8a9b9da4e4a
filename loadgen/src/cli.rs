//! loadgen's one command line (clap derive): the bombardier-compatible load test, the scenario
//! runner (`--scenario`, `--list`) and the subcommands. Every value is checked here, so that a bad
//! flag is one line on stderr and exit status 2, before anything is printed or run.
//!
//! `-c/--connections`, `-d/--duration` and `--warmup` serve both modes: a load test's
//! connections, duration and warm-up, or, with `--scenario`, overrides of the scenario files.
//! `--threads` is the load generator's client threads; the runner's server thread counts are
//! `--server-threads`.
//!
//! Built without the `bench` feature, the runner's flags and the `plot`, `compare` and `serve`
//! subcommands are not in this command line; asking for one is a one-line error saying so.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};
#[cfg(feature = "bench")]
use loadgen::bench::runner::RunnerArgs;
use loadgen::report::UserTemplate;
use loadgen::units::{self, show};

#[cfg(feature = "bench")]
const AFTER_HELP: &str = "\
Modes:
  loadgen [OPTIONS] URL               load test (bombardier 1.2.5's flags and output)
  loadgen --scenario ID[,ID..]|all    scenario runner (--list shows the scenarios)
  loadgen merge FILE...               merge JSON reports exactly
  loadgen plot [DIR]                  draw the charts of a results run
  loadgen compare BASELINE NEW        compare two result runs (exit 1 on a regression)

Differences from bombardier: loadgen has one HTTP/1.1 client (--fasthttp and --http1 select it,
-a works with it), -r accepts fractions and measures latency from the intended send time too,
-o json adds percentiles, error classes and the HDR histogram to bombardier's schema.";

#[cfg(not(feature = "bench"))]
const AFTER_HELP: &str = "\
Modes:
  loadgen [OPTIONS] URL               load test (bombardier 1.2.5's flags and output)
  loadgen merge FILE...               merge JSON reports exactly
(Built without the benchmark runner: the `bench` feature adds --scenario, plot and compare.)

Differences from bombardier: loadgen has one HTTP/1.1 client (--fasthttp and --http1 select it,
-a works with it), -r accepts fractions and measures latency from the intended send time too,
-o json adds percentiles, error classes and the HDR histogram to bombardier's schema.";

/// The benchmark layer's flags and subcommands: a build without the `bench` feature names them
/// when they are asked for (a test of the default build keeps the list equal to the runner's).
#[cfg(any(test, not(feature = "bench")))]
pub const BENCH_FLAGS: &[&str] = &[
    "--scenario",
    "--list",
    "--server-threads",
    "--contender",
    "--scenarios-dir",
    "--results-dir",
    "--no-plot",
    "--server-cpus",
    "--client-cpus",
    "--repeat",
    "--fail-threshold",
    "--allow-failures",
    "--server-exe",
];

/// Why a flag or subcommand of the benchmark layer is refused (`--no-default-features`).
#[cfg(not(feature = "bench"))]
pub const WITHOUT_BENCH: &str = "part of the benchmark layer, and this loadgen was built without \
     it (cargo feature `bench`, on by default)";

/// A bombardier-compatible HTTP/1.1 load generator with exact HDR latency histograms, and the
/// tcpserver benchmark scenario runner.
#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    version,
    args_conflicts_with_subcommands = true,
    after_help = AFTER_HELP
)]
#[cfg_attr(
    not(feature = "bench"),
    command(
        about = "A bombardier-compatible HTTP/1.1 load generator with exact HDR latency histograms"
    )
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub shared: SharedArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    #[cfg(feature = "bench")]
    #[command(flatten)]
    pub runner: RunnerArgs,
}

/// loadgen's subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Merge the JSON reports of several loadgen processes exactly (histograms added).
    Merge {
        /// Report files (`loadgen -o json` output).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format: json (j), plain-text (pt) or path:FILE (a Go text/template).
        #[arg(short = 'o', long, default_value = "json", value_parser = parse_format)]
        format: Format,
        /// Print latency percentiles (plain format).
        #[arg(short = 'l', long)]
        latencies: bool,
    },
    /// Draw the charts of a results run directory.
    #[cfg(feature = "bench")]
    Plot {
        /// Run or results directory (default: the newest run under `results/`).
        dir: Option<PathBuf>,
    },
    /// Compare two result runs (regression gate): exit 1 on a regression.
    #[cfg(feature = "bench")]
    Compare(loadgen::bench::compare::CompareArgs),
    /// Run a built-in contender server (used by the scenario runner).
    #[cfg(feature = "bench")]
    #[command(hide = true)]
    Serve(loadgen::bench::contender::ServeArgs),
    /// `plot`, `compare` or `serve` in a build without the benchmark layer: refused.
    #[cfg(not(feature = "bench"))]
    #[command(
        name = "plot",
        aliases = ["compare", "serve"],
        hide = true,
        disable_help_flag = true
    )]
    WithoutBench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Flags of both modes (load test and scenario runner).
#[derive(Args, Debug)]
#[command(next_help_heading = "Load test and scenario runner")]
pub struct SharedArgs {
    /// Maximum number of concurrent connections [load test default: 125]; with --scenario:
    /// overrides the scenario files.
    #[arg(short = 'c', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub connections: Option<u64>,
    /// Duration of the test, e.g. 10s, 500ms, 1m30s [load test default: 10s unless -n is given];
    /// with --scenario: the measured time of each run.
    #[arg(short = 'd', long, value_name = "DURATION", value_parser = units::parse_positive_duration)]
    pub duration: Option<Duration>,
    /// Run this long before measuring (warm-up requests are not recorded) [load test default:
    /// 0s]; with --scenario: overrides the scenario files.
    #[arg(long, value_name = "DURATION", value_parser = units::parse_duration)]
    pub warmup: Option<Duration>,
}

/// The load test's flags: bombardier 1.2.5's, and loadgen's own.
#[derive(Args, Debug)]
#[command(next_help_heading = "Load test (bombardier-compatible)")]
pub struct LoadArgs {
    /// Target URL, e.g. http://127.0.0.1:8080/ (the scheme may be left out: http).
    pub url: Option<String>,
    /// Number of requests (instead of a duration).
    #[arg(short = 'n', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Rate limit in requests per second, all connections together (open loop; latency is also
    /// measured from the intended send time, corrected for coordinated omission).
    #[arg(short = 'r', long, value_name = "RPS", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Socket/request timeout.
    #[arg(short = 't', long, value_name = "DURATION", default_value = "2s", value_parser = units::parse_positive_duration)]
    pub timeout: Duration,
    /// Request method.
    #[arg(short = 'm', long, default_value = "GET", value_parser = parse_method)]
    pub method: String,
    /// HTTP header ("K: V"), can be repeated.
    #[arg(short = 'H', long = "header", value_name = "\"K: V\"", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Request body.
    #[arg(short = 'b', long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// File to use as request body (read once, before the test).
    #[arg(short = 'f', long = "body-file", value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// Send the body with chunked transfer encoding (`Transfer-Encoding: chunked`).
    #[arg(short = 's', long)]
    pub stream: bool,
    /// Do not verify the server's certificate chain and host name.
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Disable HTTP keep-alive: a new connection per request, with `Connection: close` (unlike
    /// bombardier, this works with every client option).
    #[arg(
        short = 'a',
        long = "disableKeepAlives",
        visible_alias = "no-keep-alive"
    )]
    pub disable_keep_alives: bool,
    /// Path to the client's TLS certificate (PEM).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Path to the client's TLS certificate private key (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Print latency statistics (the percentile table).
    #[arg(short = 'l', long)]
    pub latencies: bool,
    /// What to output: comma-separated intro (i), progress (p), result (r); e.g. `i,p,r`,
    /// `intro,result`, `r`.
    #[arg(short = 'p', long, value_name = "SPEC", value_parser = parse_print)]
    pub print: Option<PrintSet>,
    /// Don't output anything.
    #[arg(short = 'q', long = "no-print")]
    pub no_print: bool,
    /// Result format: plain-text (pt), json (j), or path:FILE, a user template in Go's
    /// text/template syntax with bombardier's template data and functions.
    #[arg(short = 'o', long, value_name = "SPEC", default_value = "plain-text", value_parser = parse_format)]
    pub format: Format,
    /// Use the fasthttp-compatible client: loadgen's HTTP/1.1 client (the default).
    #[arg(long)]
    pub fasthttp: bool,
    /// Use an HTTP/1.x client: loadgen's HTTP/1.1 client (the same as --fasthttp).
    #[arg(long, conflicts_with = "fasthttp")]
    pub http1: bool,
    /// Use HTTP/2 (ALPN h2 over TLS, prior knowledge over http://).
    #[arg(long, conflicts_with_all = ["fasthttp", "http1"])]
    pub http2: bool,
    /// Use HTTP/2 over plain TCP with prior knowledge (h2c; http:// URLs).
    #[arg(long, conflicts_with_all = ["fasthttp", "http1", "http2"])]
    pub h2c: bool,
    /// HTTP/2: concurrent streams per connection [default: 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65_535))]
    pub streams: Option<u32>,
    /// HTTP/1.1: requests in flight per connection (pipelining, needs keep-alive) [default: 1:
    /// none].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub pipeline: Option<u32>,
    /// Client threads, each with its own runtime and share of the connections [default:
    /// available cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Pin client threads to these CPUs, e.g. 1, 0,2 or 2-3 (each CPU once).
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<units::CpuList>,
    /// Start at this time (to start several loadgen processes together): RFC 3339
    /// (2026-11-27T01:00:00Z, +01:00 offsets), Unix seconds, or +DURATION; at most a day ahead.
    #[arg(long, value_name = "TIME", value_parser = units::parse_start_at)]
    pub start_at: Option<SystemTime>,
    /// Connect to this Unix socket instead of the URL's host (plain http:// only; the Host
    /// header and the path still come from the URL).
    #[arg(long, value_name = "PATH", conflicts_with = "connect_to")]
    pub unix_socket: Option<PathBuf>,
    /// Connect to HOST:PORT instead of the URL's host; the Host header and the TLS server name
    /// still come from the URL.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_connect_to)]
    pub connect_to: Option<String>,
}

/// `-p`: what to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintSet {
    pub intro: bool,
    pub progress: bool,
    pub result: bool,
}

impl PrintSet {
    /// bombardier's default: everything.
    pub const ALL: PrintSet = PrintSet {
        intro: true,
        progress: true,
        result: true,
    };
    /// `-q`: nothing.
    pub const NONE: PrintSet = PrintSet {
        intro: false,
        progress: false,
        result: false,
    };
}

/// `-o`: how the result is written.
#[derive(Debug, Clone)]
pub enum Format {
    /// `plain-text`, `pt` (and loadgen's older `plain`).
    PlainText,
    /// `json`, `j`.
    Json,
    /// `path:FILE`: a user template, read and checked when the command line is parsed.
    Template(UserTemplate),
}

/// bombardier's `-p` grammar: comma-separated `i|intro`, `p|progress`, `r|result`.
fn parse_print(s: &str) -> Result<PrintSet, String> {
    let mut p = PrintSet::NONE;
    for part in s.split(',') {
        match part.trim() {
            "i" | "intro" => p.intro = true,
            "p" | "progress" => p.progress = true,
            "r" | "result" => p.result = true,
            _ => {
                return Err(format!(
                    "`{}` is not a valid part of print spec `{}` (use intro, progress, result \
                     or i, p, r, comma-separated)",
                    show(part),
                    show(s)
                ));
            }
        }
    }
    Ok(p)
}

/// bombardier's `-o` grammar.
fn parse_format(s: &str) -> Result<Format, String> {
    if let Some(path) = s.strip_prefix("path:") {
        if path.is_empty() {
            return Err("format `path:` needs a template file (path:FILE)".into());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read template {}: {e}", show(path)))?;
        return UserTemplate::parse(&text)
            .map(Format::Template)
            .map_err(|e| format!("template {}: {e}", show(path)));
    }
    match s {
        "plain-text" | "pt" | "plain" => Ok(Format::PlainText),
        "json" | "j" => Ok(Format::Json),
        _ => Err(format!(
            "unknown format or invalid format spec `{}` (plain-text, pt, json, j, path:FILE)",
            show(s)
        )),
    }
}

/// `-r`: a positive decimal number (no exponents, `NaN` or `inf`).
fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let decimal = !t.is_empty()
        && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && t.bytes().filter(|&b| b == b'.').count() <= 1
        && t.len() <= 12;
    match t.parse::<f64>() {
        Ok(r) if decimal && r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!(
            "invalid rate `{}` (requests per second, e.g. 1000 or 0.5)",
            show(s)
        )),
    }
}

/// An HTTP token (RFC 9110 5.6.2): methods and header names.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn parse_method(s: &str) -> Result<String, String> {
    if is_token(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "invalid method `{}` (an HTTP token such as GET)",
            show(s)
        ))
    }
}

/// `-H "K: V"`.
fn parse_header(s: &str) -> Result<(String, String), String> {
    let bad = |why: &str| format!("invalid header `{}`: {why} (expected \"K: V\")", show(s));
    let (k, v) = s.split_once(':').ok_or_else(|| bad("no `:`"))?;
    let k = k.trim();
    if !is_token(k) {
        return Err(bad("the name is not an HTTP token"));
    }
    if v.bytes()
        .any(|b| (b.is_ascii_control() && b != b'\t') || b == 0x7f)
    {
        return Err(bad("control characters in the value"));
    }
    Ok((k.to_string(), v.trim().to_string()))
}

/// `--connect-to HOST:PORT` (`[::1]:8080` for IPv6; port 0 cannot be connected to).
fn parse_connect_to(s: &str) -> Result<String, String> {
    match tcpserver::split_host_port(s) {
        Some((_, port)) if port > 0 => Ok(s.to_string()),
        _ => Err(format!(
            "invalid address `{}` (expected HOST:PORT)",
            show(s)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[cfg(feature = "bench")]
    #[test]
    fn bench_flags_are_the_runners() {
        let runner = RunnerArgs::augment_args(clap::Command::new("runner"));
        let mut longs: Vec<String> = runner
            .get_arguments()
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        let mut listed: Vec<String> = BENCH_FLAGS.iter().map(|f| f.to_string()).collect();
        longs.sort();
        listed.sort();
        assert_eq!(longs, listed);
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied()))
    }

    #[test]
    fn bombardier_forms() {
        let cli = parse(&[
            "-c",
            "100",
            "-d",
            "1s",
            "-pr",
            "-oj",
            "--fasthttp",
            "-k",
            "http://127.0.0.1:1/",
        ])
        .unwrap();
        assert_eq!(cli.shared.connections, Some(100));
        assert_eq!(cli.shared.duration, Some(Duration::from_secs(1)));
        assert_eq!(
            cli.load.print,
            Some(PrintSet {
                result: true,
                ..PrintSet::NONE
            })
        );
        assert!(matches!(cli.load.format, Format::Json));
        assert!(cli.load.insecure && cli.load.fasthttp);
        let cli = parse(&[
            "-lk",
            "-a",
            "-q",
            "-opt",
            "-p",
            "intro,progress,result",
            "x",
        ])
        .unwrap();
        assert!(cli.load.latencies && cli.load.insecure && cli.load.disable_keep_alives);
        assert!(cli.load.no_print && matches!(cli.load.format, Format::PlainText));
        assert_eq!(cli.load.print, Some(PrintSet::ALL));
        for long in [
            &[
                "--connections",
                "5",
                "--duration",
                "1m30s",
                "--requests",
                "9",
                "x",
            ][..],
            &["--rate", "10.5", "--timeout", "1s", "--method", "PUT", "x"],
            &[
                "--header",
                "A: b",
                "--body",
                "hi",
                "--stream",
                "--insecure",
                "x",
            ],
            &[
                "--disableKeepAlives",
                "--latencies",
                "--print",
                "r",
                "--no-print",
                "x",
            ],
            &["--format", "plain-text", "--http1", "x"],
            &["--body-file", "/dev/null", "--format", "json", "x"],
            &["--cert", "c", "--key", "k", "x"],
        ] {
            assert!(parse(long).is_ok(), "{long:?}");
        }
        assert!(parse(&["-p", "q", "x"]).is_err());
        assert!(parse(&["-p", "", "x"]).is_err());
        assert!(parse(&["-o", "xml", "x"]).is_err());
    }

    #[test]
    fn values_are_checked() {
        assert!(parse_rate("NaN").is_err() && parse_rate("1e309").is_err());
        assert!(parse_rate("0").is_err() && parse_rate("-1").is_err());
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert!(parse_method("G T").is_err() && parse_method("é").is_err());
        assert!(parse_header("A").is_err() && parse_header(": b").is_err());
        assert_eq!(parse_header("A : b "), Ok(("A".into(), "b".into())));
        assert!(parse_connect_to("127.0.0.1:8080").is_ok());
        assert!(parse_connect_to("[::1]:80").is_ok());
        for bad in [
            "127.0.0.1",
            ":80",
            "h:0",
            "h:x",
            "h:-1",
            "é:80",
            "[x]:80",
            "h:80/p",
        ] {
            assert!(parse_connect_to(bad).is_err(), "{bad}");
        }
    }
}
