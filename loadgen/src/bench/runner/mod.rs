//! The scenario runner: `loadgen --scenario 3` starts each contender's server as a child process
//! pinned to the server CPUs, loads it from the client CPUs, records the result and draws charts.
//!
//! For each scenario × contender × server thread count: start the server (its own process group,
//! `sched_setaffinity` before exec), wait until it listens, warm up, measure, stop it (SIGTERM, then
//! SIGKILL), and save `results/<run>/<scenario>-<contender>-t<threads>.json`.

mod placement;
mod server;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};

use crate::attack::{self, AttackConfig};
use crate::bench::contender::Contender;
use crate::bench::machine::Machine;
use crate::bench::results::{
    self, Failure, RunDir, RunManifest, RunRecord, ServerUsage, Skipped, TABLE_COLUMNS,
};
use crate::bench::scenario::{self, Scenario};
use crate::sys;
use crate::units;

pub use placement::Placement;
use server::{ServerProcess, ServerSpec, TlsFiles};

/// Options of the scenario runner (`loadgen --scenario ...`), part of loadgen's one command line
/// (`loadgen/src/cli.rs`).
///
/// `duration`, `warmup` and `connections` are not flags of their own here: loadgen's `-d`,
/// `--warmup` and `-c` fill them when `--scenario` is given (they then override the scenario
/// files).
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Scenario runner (with --scenario or --list)")]
pub struct RunnerArgs {
    /// Run scenarios: an id (`3`), a list (`1,2,1t`) or `all`. See `--list`.
    #[arg(long, value_name = "ID[,ID...]|all", value_parser = scenario_spec)]
    pub scenario: Option<String>,
    /// List the scenarios and contenders, then exit.
    #[arg(long)]
    pub list: bool,
    /// Measured time per run, overriding the scenario files (set by `-d`).
    #[arg(skip)]
    pub duration: Option<Duration>,
    /// Warm-up time per run, overriding the scenario files (set by `--warmup`).
    #[arg(skip)]
    pub warmup: Option<Duration>,
    /// Client connections, overriding the scenario files (set by `-c`).
    #[arg(skip)]
    pub connections: Option<usize>,
    /// Server thread counts to sweep, e.g. `1,2,4` (default: powers of two up to the server CPU
    /// count, and that count).
    #[arg(
        id = "server_threads",
        long = "server-threads",
        value_name = "N[,N...]",
        value_delimiter = ',',
        value_parser = clap::value_parser!(u16).range(1..=1024)
    )]
    pub threads: Vec<u16>,
    /// Contenders (repeatable; default: the built-ins). `builtin`, a built-in name
    /// (tcpserver-per-core, tcpserver-shared, hyper), a contender file name from
    /// `<scenarios-dir>/contenders/` (e.g. `nginx`) or path, or `name[tls,aes128,sleep]='command
    /// --listen {addr} --payload {payload} ...'`.
    #[arg(long = "contender", value_name = "SPEC")]
    pub contenders: Vec<String>,
    /// Directory of scenario files (default: ./scenarios, else the source tree's).
    #[arg(long, value_name = "DIR")]
    pub scenarios_dir: Option<PathBuf>,
    /// Where runs are saved (a new timestamped directory per run).
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub results_dir: PathBuf,
    /// Do not draw charts or write results/README.md after the run.
    #[arg(long)]
    pub no_plot: bool,
    /// CPUs for the server, e.g. `0` or `0-3` (default: the first half of the available CPUs).
    #[arg(long, value_name = "LIST")]
    pub server_cpus: Option<units::CpuList>,
    /// CPUs for the load generator (default: the CPUs not given to the server).
    #[arg(long, value_name = "LIST")]
    pub client_cpus: Option<units::CpuList>,
    /// Runs of every scenario × contender × thread count, interleaved (A B C A B C ...) so that
    /// machine noise spreads over all contenders; tables and charts show the median and min–max.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_repeat)]
    pub repeat: usize,
    /// A run fails when no request succeeds or when errors (failed requests and non-2xx) exceed
    /// this share of the attempts (default 1%).
    #[arg(long, value_name = "PERCENT", value_parser = results::parse_percent)]
    pub fail_threshold: Option<f64>,
    /// Exit 0 even if some runs failed (they are still reported as failed).
    #[arg(long)]
    pub allow_failures: bool,
    /// The executable that provides `serve` (default: this one).
    #[arg(long, value_name = "FILE", hide = true)]
    pub server_exe: Option<PathBuf>,
}

/// `--scenario`: `all`, or ids separated by commas (checked against the files when the run starts).
fn scenario_spec(s: &str) -> Result<String, String> {
    let ok = s.len() <= 1000
        && s.split(',').all(|id| {
            !id.trim().is_empty()
                && id.trim().len() <= 64
                && id
                    .trim()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "invalid scenario list `{}` (e.g. 3, 1,2,1t or all)",
            units::show(s)
        ))
    }
}

/// Runs the scenario runner.
pub fn main(args: RunnerArgs) -> anyhow::Result<()> {
    let scenarios_dir = args.scenarios_dir.clone().or_else(scenario::default_dir);
    let all = scenario::load(scenarios_dir.as_deref())?;
    let contenders_dir = scenarios_dir.as_ref().map(|d| d.join("contenders"));
    if args.list {
        print_list(&all, scenarios_dir.as_deref(), contenders_dir.as_deref());
        return Ok(());
    }
    let mut selected = scenario::select(&all, args.scenario.as_deref().unwrap_or("all"))?;
    for s in &mut selected {
        if let Some(d) = args.duration {
            s.duration = d;
        }
        if let Some(w) = args.warmup {
            s.warmup = w;
        }
        if let Some(c) = args.connections {
            s.connections = c.max(1);
        }
    }
    let contenders = contenders(&args.contenders, contenders_dir.as_deref())?;
    let placement = Placement::decide(
        &sys::affinity_cpus(),
        args.server_cpus.clone().map(|c| c.0),
        args.client_cpus.clone().map(|c| c.0),
    )?;
    let threads = if args.threads.is_empty() {
        placement.default_threads()
    } else {
        args.threads.iter().map(|&t| usize::from(t)).collect()
    };
    check_open_files(selected.iter().map(|s| s.connections).max().unwrap_or(0))?;
    let exe = match &args.server_exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe().context("locating the loadgen executable")?,
    };

    let machine = Machine::detect();
    // The runner's own threads (server output readers, the engine's helpers) stay off the server
    // CPUs; servers get theirs before exec.
    sys::set_affinity(&placement.client).context("restricting the runner to the client CPUs")?;
    println!("machine: {}", machine.summary());
    println!(
        "placement: server on CPU {}, load generator on CPU {} (sched_setaffinity){}",
        units::format_cpu_list(&placement.server),
        units::format_cpu_list(&placement.client),
        if placement.overlaps() {
            " -- WARNING: they overlap, results are not meaningful"
        } else {
            ""
        }
    );
    if let Some(&t) = threads.iter().find(|&&t| t > placement.server.len()) {
        println!(
            "note: {t} server threads on {} server CPU(s): threads share CPUs",
            placement.server.len()
        );
    }
    println!(
        "server threads: {}; contenders: {}",
        threads
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        contenders
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let repeats = args.repeat.max(1);
    let fail_threshold = args
        .fail_threshold
        .unwrap_or(results::DEFAULT_FAIL_THRESHOLD);
    let started = SystemTime::now();
    let run_dir = new_run_dir(&args.results_dir, started)?;
    let work = WorkDir::new()?;
    let tls = if selected.iter().any(|s| s.tls) {
        Some(TlsFiles::generate(work.path()).context("writing the TLS certificate")?)
    } else {
        None
    };
    let mut manifest = RunManifest {
        started_at: units::format_timestamp(started),
        command: command_line(),
        machine: machine.clone(),
        server_cpus: placement.server.clone(),
        client_cpus: placement.client.clone(),
        threads: threads.clone(),
        repeats,
        contenders: contenders.iter().map(|c| c.name.clone()).collect(),
        scenarios: selected.iter().map(|s| s.id.clone()).collect(),
        skipped: Vec::new(),
        failed: Vec::new(),
    };
    let manifest_path = run_dir.join(results::MANIFEST);
    results::write_json(&manifest_path, &manifest)?;

    for scenario in &selected {
        println!(
            "\n== scenario {}: {} ({})",
            scenario.id,
            scenario.name,
            scenario.summary()
        );
        // Contenders that can run this scenario; the others are skipped once.
        let mut runnable = Vec::new();
        for contender in &contenders {
            let missing = contender.missing_features(scenario);
            if missing.is_empty() {
                runnable.push(contender);
                continue;
            }
            let reason = format!(
                "{} cannot do {}",
                contender.name,
                missing
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!("   skipped {}: {reason}", contender.name);
            manifest.skipped.push(Skipped {
                scenario: scenario.id.clone(),
                contender: contender.name.clone(),
                threads: None,
                repeat: None,
                reason,
            });
        }
        // Interleaved: every contender and thread count once, then again, `repeats` times.
        for repeat in 1..=repeats {
            for contender in &runnable {
                for &t in &threads {
                    let job = Job {
                        scenario,
                        contender,
                        threads: t,
                        repeat,
                        repeats,
                        fail_threshold,
                        placement: &placement,
                        exe: &exe,
                        tls: tls.as_ref(),
                        workdir: work.path(),
                        machine: &machine,
                    };
                    let failed = |reason: String| Skipped {
                        scenario: scenario.id.clone(),
                        contender: contender.name.clone(),
                        threads: Some(t),
                        repeat: Some(repeat),
                        reason,
                    };
                    match job.run() {
                        Ok(record) => {
                            print_record(&record);
                            let path = results::write_record(&run_dir, &record)?;
                            println!("   saved {}", path.display());
                            if let Some(failure) = &record.failure {
                                eprintln!(
                                    "   FAILED {} t{t} repeat {repeat}: {}",
                                    contender.name,
                                    failure.describe()
                                );
                                manifest.failed.push(failed(failure.describe()));
                            }
                        }
                        Err(e) => {
                            eprintln!("   FAILED {} t{t} repeat {repeat}: {e:#}", contender.name);
                            manifest.failed.push(failed(format!("{e:#}")));
                        }
                    }
                    results::write_json(&manifest_path, &manifest)?;
                }
            }
        }
    }
    results::write_json(&manifest_path, &manifest)?;

    println!();
    let run = results::read_run_dir(&run_dir)?;
    print_summary(&run);
    if !args.no_plot && !run.records.is_empty() {
        for path in crate::bench::plot::plot_run(&run_dir)? {
            println!("wrote {}", path.display());
        }
    }
    println!("results: {}", run_dir.display());
    if !manifest.failed.is_empty() {
        let message = format!(
            "{} run(s) failed, see above and {}",
            manifest.failed.len(),
            manifest_path.display()
        );
        if !args.allow_failures {
            bail!("{message} (--allow-failures to exit 0 anyway)");
        }
        eprintln!("{message}");
    }
    Ok(())
}

fn contenders(specs: &[String], dir: Option<&Path>) -> anyhow::Result<Vec<Contender>> {
    if specs.is_empty() {
        return Ok(Contender::builtins());
    }
    let mut out: Vec<Contender> = Vec::new();
    for spec in specs {
        for contender in Contender::parse(spec, dir)? {
            if out.iter().any(|c| c.name == contender.name) {
                bail!("contender `{}` is given twice", contender.name);
            }
            out.push(contender);
        }
    }
    Ok(out)
}

/// One scenario × contender × thread count.
struct Job<'a> {
    scenario: &'a Scenario,
    contender: &'a Contender,
    threads: usize,
    /// 1-based, of `repeats`.
    repeat: usize,
    repeats: usize,
    fail_threshold: f64,
    placement: &'a Placement,
    exe: &'a Path,
    tls: Option<&'a TlsFiles>,
    workdir: &'a Path,
    machine: &'a Machine,
}

impl Job<'_> {
    fn run(&self) -> anyhow::Result<RunRecord> {
        let s = self.scenario;
        let cpus = self.placement.server_cpus_for(self.threads);
        let workdir = self.workdir.join(format!(
            "{}-{}-t{}-r{}",
            s.id, self.contender.name, self.threads, self.repeat
        ));
        std::fs::create_dir_all(&workdir)?;
        let spec = ServerSpec {
            contender: self.contender,
            scenario: s,
            threads: self.threads,
            cpus: cpus.clone(),
            exe: self.exe,
            tls: self.tls,
            workdir: &workdir,
        };
        println!(
            "-- {} t{}{} (server CPU {}, client CPU {})",
            self.contender.name,
            self.threads,
            if self.repeats > 1 {
                format!(" repeat {}/{}", self.repeat, self.repeats)
            } else {
                String::new()
            },
            units::format_cpu_list(&cpus),
            units::format_cpu_list(&self.placement.client)
        );
        let mut server = ServerProcess::start(&spec)
            .with_context(|| format!("starting {}", self.contender.name))?;
        tracing::debug!("started `{}` on {}", server.command, server.addr);
        let base = AttackConfig {
            url: format!(
                "{}://{}/",
                if s.tls { "https" } else { "http" },
                server.addr
            ),
            connections: s.connections,
            keep_alive: s.keep_alive,
            insecure: true,
            threads: self.placement.client.len(),
            cpus: Some(self.placement.client.clone()),
            http2: s.http2,
            streams: s.streams,
            pipeline: s.pipeline,
            ..AttackConfig::default()
        };
        if !s.warmup.is_zero() {
            attack::run(&AttackConfig {
                duration: Some(s.warmup),
                ..base.clone()
            })
            .context("warm-up")?;
            server.check_alive().context("after warm-up")?;
        }
        let server_before = server.stats();
        let client_before = sys::process_cpu_seconds();
        let started_at = units::format_timestamp(SystemTime::now());
        let report = attack::run(&AttackConfig {
            duration: Some(s.duration),
            ..base
        })
        .context("load")?;
        let client_cpu_seconds = sys::process_cpu_seconds() - client_before;
        let server_after = server.stats();
        server.check_alive().context("after the load")?;
        let contender_command = server.command.clone();
        if let Err(e) = server.stop() {
            eprintln!("   warning: {e:#}");
        }

        let result = &report.result;
        let cpu_seconds = (server_after.cpu_seconds - server_before.cpu_seconds).max(0.0);
        let errors = result.error_classes.total()
            + result.req1xx
            + result.req3xx
            + result.req4xx
            + result.req5xx
            + result.others;
        let rps = if result.time_taken_seconds > 0.0 {
            result.requests as f64 / result.time_taken_seconds
        } else {
            result.rps.mean
        };
        let failure = Failure::judge(result, self.fail_threshold);
        Ok(RunRecord {
            scenario: s.clone(),
            contender: self.contender.name.clone(),
            contender_description: self.contender.description.clone(),
            contender_command,
            threads: self.threads,
            repeat: self.repeat,
            failure,
            server_cpus: cpus,
            client_cpus: self.placement.client.clone(),
            started_at,
            requests_per_second: rps,
            errors,
            server: ServerUsage {
                cpu_seconds,
                // Not computed without requests (it would be the CPU time itself).
                cpu_us_per_request: (result.requests > 0)
                    .then(|| cpu_seconds * 1e6 / result.requests as f64),
                peak_rss_kib: server_after.peak_rss_kib,
                processes: server_after.processes,
            },
            client_cpu_seconds,
            machine: self.machine.clone(),
            report,
        })
    }
}

fn print_record(r: &RunRecord) {
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = r.report.write_plain(&mut out, true);
        let _ = out.flush();
    }
    let numbers: Vec<String> = r
        .headline()
        .iter()
        .map(|(column, value)| format!("{column} {value}"))
        .collect();
    println!("   {}", numbers.join(", "));
    let classes: Vec<String> = r
        .report
        .result
        .error_classes
        .iter()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    if !classes.is_empty() {
        println!("   errors by class: {}", classes.join(", "));
    }
    if let Some(failure) = &r.failure {
        println!("   FAILED: {}", failure.describe());
    }
}

/// The run's table: one row per scenario × contender × threads (medians and min–max of the
/// repeats), failed points marked failed.
fn print_summary(run: &RunDir) {
    let points = results::points(run);
    if points.is_empty() {
        return;
    }
    let mut rows = vec![
        ["scen", "contender", "t"]
            .into_iter()
            .chain(TABLE_COLUMNS)
            .map(String::from)
            .collect::<Vec<_>>(),
    ];
    for p in &points {
        let mut row = vec![
            p.scenario.clone(),
            p.contender.clone(),
            p.threads.to_string(),
        ];
        row.extend(
            results::table_cells(p)
                .into_iter()
                .map(|c| c.replace("**", "")),
        );
        rows.push(row);
    }
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |v| v.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            // A failed point's reason is long: no padding after it.
            if cell.starts_with("FAILED") {
                line.push_str(cell);
                break;
            }
            if c < 2 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
            line.push_str("  ");
        }
        println!("{}", line.trim_end());
    }
}

fn print_list(all: &[Scenario], dir: Option<&Path>, contenders_dir: Option<&Path>) {
    // Collected and written once: a closed pipe (`loadgen --list | head`) is not a panic.
    let mut out = String::new();
    macro_rules! say {
        ($($arg:tt)*) => {{
            out.push_str(&format!($($arg)*));
            out.push('\n');
        }};
    }
    say!(
        "scenarios ({}):",
        dir.map_or("built in".to_string(), |d| d.display().to_string())
    );
    say!(
        "  {:<4} {:<40} {:>5} {:<10} {:>7} {:<16} time",
        "id",
        "name",
        "conns",
        "keep-alive",
        "payload",
        "extra"
    );
    for s in all {
        let extra = s
            .required_features()
            .iter()
            .map(|f| {
                if *f == scenario::Feature::Sleep {
                    format!("sleep {}ms", s.sleep_ms)
                } else {
                    f.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        say!(
            "  {:<4} {:<40} {:>5} {:<10} {:>7} {:<16} {} (+{} warm-up)",
            s.id,
            s.name,
            s.connections,
            if s.keep_alive { "on" } else { "off" },
            s.payload,
            extra,
            units::format_duration(s.duration),
            units::format_duration(s.warmup)
        );
    }
    say!("\ncontenders (--contender NAME; default: the built-ins):");
    for c in Contender::builtins() {
        say!("  {:<20} {}", c.name, c.description);
    }
    if let Some(dir) = contenders_dir
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for file in files {
            match Contender::from_file(&file) {
                Ok(c) => say!(
                    "  {:<20} {} [features: static{}] ({})",
                    c.name,
                    c.description,
                    c.features
                        .iter()
                        .map(|f| format!(", {f}"))
                        .collect::<String>(),
                    file.display()
                ),
                Err(e) => say!("  (invalid) {e}"),
            }
        }
    }
    say!(
        "  or NAME[features]='command --listen {{addr}} --payload {{payload}} ...' \
         (features: aes128, sleep, tls; placeholders: {{addr}} {{host}} {{port}} {{payload}} \
         {{keepalive}} {{keepalive01}} {{aes128}} {{sleep_ms}} {{tls}} {{scheme}} {{threads}} \
         {{cpus}} {{cert}} {{key}} {{workdir}} {{dir}} {{bin}})"
    );
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
}

/// Raises `RLIMIT_NOFILE` for the client and the servers (children inherit it); fails with a
/// clear message when the hard limit is too low for the connections.
fn check_open_files(connections: usize) -> anyhow::Result<()> {
    let needed = connections as u64 + 256;
    // Like Go's runtime: take what the hard limit allows (servers inherit it), at least `needed`.
    let soft = sys::raise_nofile(needed.max(65_536)).context("raising RLIMIT_NOFILE")?;
    if soft < needed {
        let hard = sys::open_files_limit().map_or(soft, |(_, hard)| hard);
        bail!(
            "RLIMIT_NOFILE is too low for {connections} connections: the client and each server \
             need about {needed} file descriptors, but the limit is {soft} (hard limit {hard}). \
             Raise it (e.g. `ulimit -n {needed}` as root, or `docker run --ulimit nofile={needed}`) \
             or use fewer --connections."
        );
    }
    Ok(())
}

fn new_run_dir(results_dir: &Path, started: SystemTime) -> anyhow::Result<PathBuf> {
    let base = units::format_dir_timestamp(started);
    for n in 0..100 {
        let name = if n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let dir = results_dir.join(name);
        if !dir.exists() {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            return Ok(dir);
        }
    }
    bail!("cannot create a run directory in {}", results_dir.display())
}

fn command_line() -> String {
    let mut args = std::env::args();
    let program = args
        .next()
        .map(|p| {
            Path::new(&p)
                .file_name()
                .map_or(p.clone(), |n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "loadgen".into());
    std::iter::once(program)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A temporary directory for certificates, configs and logs, removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> anyhow::Result<WorkDir> {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("loadgen-run-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(WorkDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `--repeat`: 1 to 1000.
fn parse_repeat(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(format!("`{s}` is not a repeat count from 1 to 1000")),
    }
}
