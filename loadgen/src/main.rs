//! `loadgen`: a bombardier-compatible HTTP/1.1 load generator, plus the benchmark scenario runner.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use loadgen::attack::{AttackConfig, run};
use loadgen::report::{Report, merge};

/// A bombardier-compatible HTTP/1.1 load generator with exact HDR latency histograms.
#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Scenario runner: loadgen --scenario ID[,ID..]|all [--list] [--duration 5s] [--connections N] [--threads 1,2] [--contender SPEC]... (loadgen --list --help for all flags)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    attack: AttackArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Merge the JSON reports of several loadgen processes exactly (histograms added).
    Merge {
        /// Report files (`loadgen -o json` output).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// Print latency percentiles (plain format).
        #[arg(short = 'l', long)]
        latencies: bool,
    },
    /// Draw the charts of a results run directory.
    Plot {
        /// Run or results directory (default: the newest run under `results/`).
        dir: Option<PathBuf>,
    },
    /// Compare two result runs (regression gate): exit 1 on a regression.
    Compare(loadgen::bench::compare::CompareArgs),
    /// Run a built-in contender server (used by the scenario runner).
    #[command(hide = true)]
    Serve(loadgen::bench::contender::ServeArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Plain,
    Json,
}

#[derive(Args, Debug)]
struct AttackArgs {
    /// Target URL, e.g. http://127.0.0.1:8080/
    url: Option<String>,
    /// Maximum number of concurrent connections.
    #[arg(short = 'c', long, default_value_t = 125)]
    connections: usize,
    /// Duration of the test, e.g. 10s, 500ms, 1m (default 10s unless -n is given).
    #[arg(short = 'd', long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Number of requests to send.
    #[arg(short = 'n', long)]
    requests: Option<u64>,
    /// Rate limit in requests per second (open loop, latency corrected for coordinated omission).
    #[arg(short = 'r', long)]
    rate: Option<f64>,
    /// Per-request timeout.
    #[arg(short = 't', long, default_value = "2s", value_parser = parse_duration)]
    timeout: Duration,
    /// Request method.
    #[arg(short = 'm', long, default_value = "GET")]
    method: String,
    /// HTTP header ("Name: value"), repeatable.
    #[arg(short = 'H', long = "header", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// Request body.
    #[arg(short = 'b', long, conflicts_with = "body_file")]
    body: Option<String>,
    /// File to use as the request body.
    #[arg(short = 'f', long = "body-file")]
    body_file: Option<PathBuf>,
    /// A new connection for every request (`Connection: close`).
    #[arg(
        short = 'a',
        long = "disableKeepAlives",
        visible_alias = "no-keep-alive"
    )]
    disable_keep_alives: bool,
    /// TLS: do not verify the server certificate.
    #[arg(short = 'k', long)]
    insecure: bool,
    /// TLS client certificate (PEM).
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// TLS client key (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Print latency percentiles.
    #[arg(short = 'l', long)]
    latencies: bool,
    /// What to print: i(ntro), p(rogress), r(esult), comma separated.
    #[arg(short = 'p', long, default_value = "i,p,r", value_parser = parse_print)]
    print: PrintSet,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Plain)]
    format: Format,
    /// Client threads (default: available cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Pin client threads to these CPUs, e.g. 1 or 0,2 or 2-3.
    #[arg(long, value_parser = parse_cpus)]
    cpus: Option<Vec<usize>>,
    /// Run this long before measuring (warmup requests are not recorded).
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    warmup: Duration,
    /// Start at this time: RFC 3339 UTC (2026-11-27T01:00:00Z), Unix seconds, or +DURATION.
    #[arg(long, value_parser = parse_start_at)]
    start_at: Option<SystemTime>,
    /// Accepted for bombardier compatibility (loadgen always uses its own HTTP/1.1 client).
    #[arg(long, hide = true)]
    fasthttp: bool,
    /// Accepted for bombardier compatibility.
    #[arg(long, hide = true)]
    http1: bool,
}

#[derive(Debug, Clone, Copy)]
struct PrintSet {
    intro: bool,
    progress: bool,
    result: bool,
}

fn main() -> ExitCode {
    // The scenario runner has its own flags (`--scenario`, `--list`, ...): hand it the command line.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if loadgen::bench::runner::is_runner_invocation(&argv[1..]) {
        return match loadgen::bench::runner::main_from_args(argv) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("loadgen: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                || matches!(
                    e.kind(),
                    ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                )
            {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line, not clap's usage block.
            let msg = e.to_string();
            let line = msg.lines().next().unwrap_or("invalid arguments");
            eprintln!(
                "loadgen: {} (see loadgen --help)",
                line.trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    if let Cli {
        command: Some(Command::Compare(args)),
        ..
    } = cli
    {
        return loadgen::bench::compare::run(args).unwrap_or_else(|e| {
            eprintln!("loadgen: {e:#}");
            ExitCode::from(2)
        });
    }
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Merge {
            files,
            format,
            latencies,
        }) => merge_files(&files, format, latencies),
        Some(Command::Plot { dir }) => loadgen::bench::plot::main(dir),
        Some(Command::Compare(_)) => unreachable!("handled in main"),
        Some(Command::Serve(args)) => loadgen::bench::contender::serve_main(args),
        None => attack(cli.attack),
    }
}

fn attack(a: AttackArgs) -> anyhow::Result<()> {
    let Some(url) = a.url else {
        bail!("missing target URL (see loadgen --help)");
    };
    let body = match (&a.body, &a.body_file) {
        (Some(b), _) => b.clone().into_bytes(),
        (None, Some(f)) => {
            std::fs::read(f).with_context(|| format!("cannot read body file {}", f.display()))?
        }
        (None, None) => Vec::new(),
    };
    let cfg = AttackConfig {
        url: url.clone(),
        connections: a.connections,
        duration: a.duration,
        requests: a.requests,
        rate: a.rate,
        timeout: a.timeout,
        method: a.method.clone(),
        headers: a.headers.clone(),
        body,
        keep_alive: !a.disable_keep_alives,
        insecure: a.insecure,
        client_cert: a.cert.clone().zip(a.key.clone()),
        threads: a.threads.unwrap_or(0),
        cpus: a.cpus.clone(),
        progress: a.print.progress,
        start_at: a.start_at,
        warmup: a.warmup,
        ..AttackConfig::default()
    };
    let plain = a.format == Format::Plain;
    if a.print.intro && plain {
        let what = match (a.duration, a.requests) {
            (Some(d), _) => format!("for {}", fmt_duration(d)),
            (None, Some(n)) => format!("with {n} request(s)"),
            (None, None) => "for 10s".to_string(),
        };
        println!(
            "Bombarding {url} {what} using {} connection(s)",
            a.connections
        );
    }
    let report = run(&cfg)?;
    if a.print.result {
        print_report(&report, a.format, a.latencies)?;
    }
    Ok(())
}

fn print_report(report: &Report, format: Format, latencies: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = match format {
        Format::Plain => report.write_plain(&mut out, latencies),
        Format::Json => serde_json::to_writer(&mut out, report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
    }
    .and_then(|()| out.flush());
    match written {
        // The reader went away (`| head`): not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

fn merge_files(files: &[PathBuf], format: Format, latencies: bool) -> anyhow::Result<()> {
    let mut reports = Vec::with_capacity(files.len());
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        let r: Report = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a loadgen JSON report", f.display()))?;
        reports.push(r);
    }
    let merged = merge(&reports)?;
    print_report(&merged, format, latencies)
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// `10s`, `500ms`, `1m30s`, `1h`, `250us`, or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_duration(secs, s);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("invalid duration {s:?} (use e.g. 10s, 500ms, 1m)"))?;
        let (num, tail) = rest.split_at(num_end);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration {s:?} (use e.g. 10s, 500ms, 1m)"))?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_end);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => {
                return Err(format!(
                    "invalid duration unit {unit:?} in {s:?} (ms, s, m, h)"
                ));
            }
        };
        total += value * scale;
        rest = next;
    }
    secs_to_duration(total, s)
}

fn secs_to_duration(secs: f64, s: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid duration {s:?}"))
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once(':')
        .ok_or_else(|| format!("invalid header {s:?} (expected \"Name: value\")"))?;
    let k = k.trim();
    if k.is_empty() {
        return Err(format!("invalid header {s:?} (empty name)"));
    }
    Ok((k.to_string(), v.trim().to_string()))
}

fn parse_print(s: &str) -> Result<PrintSet, String> {
    let mut p = PrintSet {
        intro: false,
        progress: false,
        result: false,
    };
    for part in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        match part {
            "i" | "intro" => p.intro = true,
            "p" | "progress" => p.progress = true,
            "r" | "result" => p.result = true,
            _ => return Err(format!("unknown print spec {part:?} (use i, p, r)")),
        }
    }
    Ok(p)
}

fn parse_cpus(s: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in s.split(',').map(str::trim) {
        let bad = || format!("invalid CPU list {s:?} (e.g. 1 or 0,2 or 2-3)");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b {
                    return Err(bad());
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(cpus)
}

/// RFC 3339 (`2026-11-27T01:00:00Z`, `...+02:00`, fractional seconds allowed), Unix seconds, or
/// `+DURATION` from now.
fn parse_start_at(s: &str) -> Result<SystemTime, String> {
    let s = s.trim();
    if let Some(rel) = s.strip_prefix('+') {
        return Ok(SystemTime::now() + parse_duration(rel)?);
    }
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs)
            .map(|d| UNIX_EPOCH + d)
            .map_err(|_| format!("invalid time {s:?}"));
    }
    let bad = || {
        format!("invalid time {s:?} (use RFC 3339 like 2026-11-27T01:00:00Z, Unix seconds, or +5s)")
    };
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num =
        |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    let mut frac = 0f64;
    if let Some(f) = rest.strip_prefix('.') {
        let end = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
        frac = format!("0.{}", &f[..end]).parse().map_err(|_| bad())?;
        rest = &f[end..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let oh: i64 = rest[1..3].parse().map_err(|_| bad())?;
            let om: i64 = rest[4..6].parse().map_err(|_| bad())?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return Err(bad()),
    };
    // Days from civil (Howard Hinnant's algorithm).
    let (yy, mm) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let unix = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    if unix < 0 {
        return Err(bad());
    }
    Ok(UNIX_EPOCH + Duration::from_secs(unix as u64) + Duration::from_secs_f64(frac))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn start_at() {
        let t = parse_start_at("2026-11-27T01:00:00Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_795_741_200
        );
        let t2 = parse_start_at("2026-11-27T02:00:00+01:00").unwrap();
        assert_eq!(t, t2);
        assert!(parse_start_at("yesterday").is_err());
        assert_eq!(parse_start_at("1795741200").unwrap(), t);
    }

    #[test]
    fn bombardier_flags_parse() {
        let cli = Cli::try_parse_from([
            "loadgen",
            "-c",
            "1000",
            "-d",
            "10s",
            "-p",
            "r",
            "-o",
            "json",
            "--fasthttp",
            "-k",
            "-H",
            "X-A: 1",
            "--disableKeepAlives",
            "http://127.0.0.1:8080",
        ])
        .unwrap();
        assert_eq!(cli.attack.connections, 1000);
        assert!(cli.attack.disable_keep_alives && cli.attack.insecure);
        assert_eq!(cli.attack.format, Format::Json);
        assert!(Cli::try_parse_from(["loadgen", "--no-keep-alive", "x"]).is_ok());
        assert!(Cli::try_parse_from(["loadgen", "-p", "q", "x"]).is_err());
        assert_eq!(parse_cpus("0,2-3"), Ok(vec![0, 2, 3]));
    }
}
