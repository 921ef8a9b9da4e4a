//! `loadgen`: a bombardier-compatible HTTP/1.1 load generator, plus the benchmark scenario runner.
//!
//! The command line is [`cli::Cli`]; this file picks the mode and reports failures: a bad
//! command line (or a file it names) is one line and exit status 2, a failed run exit status 1.

mod cli;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use cli::{Cli, Command, Format, LoadArgs, PrintSet, SharedArgs};
use loadgen::attack::AttackConfig;
#[cfg(feature = "bench")]
use loadgen::bench::{contender::ContenderError, runner::RunnerArgs, scenario::ScenarioError};
use loadgen::report::{Report, merge};

/// A command-line mistake: exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

fn usage(msg: impl std::fmt::Display) -> anyhow::Error {
    Usage(msg.to_string()).into()
}

fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return clap_exit(&e),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match dispatch(cli, &matches) {
        Ok(code) => code,
        Err(e) if is_usage(&e) => {
            eprintln!("loadgen: {} (see loadgen --help)", one_line(&e));
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("loadgen: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout with status 0; anything else is one line and status 2.
fn clap_exit(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    #[cfg(not(feature = "bench"))]
    if let Some(flag) = bench_flag(e) {
        eprintln!(
            "loadgen: {flag} is {} (see loadgen --help)",
            cli::WITHOUT_BENCH
        );
        return ExitCode::from(2);
    }
    let msg = e.to_string();
    let line = msg.lines().next().unwrap_or("invalid arguments");
    eprintln!(
        "loadgen: {} (see loadgen --help)",
        cap(line.trim_start_matches("error: "))
    );
    ExitCode::from(2)
}

/// The runner flag that `e` refuses as unknown, in a build without the runner.
#[cfg(not(feature = "bench"))]
fn bench_flag(e: &clap::Error) -> Option<&'static str> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let name = arg.split_once('=').map_or(arg.as_str(), |(name, _)| name);
    cli::BENCH_FLAGS.iter().copied().find(|&f| f == name)
}

fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        #[cfg(feature = "bench")]
        if c.is::<ScenarioError>() || c.is::<ContenderError>() {
            return true;
        }
        c.is::<Usage>()
    })
}

/// The error and its causes on one line, each cause once (a cause whose text its parent already
/// quotes is left out).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    cap(&line.replace(['\n', '\r'], " "))
}

/// At most 400 characters (a 5,000-character value is quoted in part).
fn cap(s: &str) -> String {
    match s.char_indices().nth(400) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

fn dispatch(cli: Cli, #[allow(unused_variables)] matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    let done = match cli.command {
        // The regression gate has its own statuses: 1 a regression, 2 trouble.
        #[cfg(feature = "bench")]
        Some(Command::Compare(args)) => {
            return loadgen::bench::compare::run(args).map_err(|e| usage(one_line(&e)));
        }
        Some(Command::Merge {
            files,
            format,
            latencies,
        }) => merge_files(&files, &format, latencies),
        #[cfg(feature = "bench")]
        Some(Command::Plot { dir }) => {
            if let Some(d) = &dir
                && !d.is_dir()
            {
                return Err(usage(format!("{} is not a directory", d.display())));
            }
            loadgen::bench::plot::main(dir)
        }
        #[cfg(feature = "bench")]
        Some(Command::Serve(args)) => loadgen::bench::contender::serve_main(args),
        #[cfg(not(feature = "bench"))]
        Some(Command::WithoutBench { .. }) => Err(usage(format!(
            "the subcommands plot, compare and serve are {}",
            cli::WITHOUT_BENCH
        ))),
        #[cfg(feature = "bench")]
        None if cli.runner.scenario.is_some() || cli.runner.list => {
            refuse_given::<LoadArgs>(matches, "is a load-test flag, not one of --scenario/--list")?;
            run_scenarios(cli.runner, &cli.shared)
        }
        None => {
            #[cfg(feature = "bench")]
            refuse_given::<RunnerArgs>(matches, "needs --scenario (or --list)")?;
            attack(cli.load, &cli.shared)
        }
    };
    done.map(|()| ExitCode::SUCCESS)
}

/// Fails if any flag of `A` was given on the command line (mode checks).
#[cfg(feature = "bench")]
fn refuse_given<A: clap::Args>(matches: &ArgMatches, why: &str) -> anyhow::Result<()> {
    use clap::parser::ValueSource;
    let group = A::augment_args(clap::Command::new("group"));
    for arg in group.get_arguments() {
        if matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine) {
            let name = match arg.get_long() {
                Some(long) => format!("--{long}"),
                None => arg.get_id().as_str().to_uppercase(),
            };
            return Err(usage(format!("{name} {why}")));
        }
    }
    Ok(())
}

#[cfg(feature = "bench")]
fn run_scenarios(mut runner: RunnerArgs, shared: &SharedArgs) -> anyhow::Result<()> {
    runner.duration = shared.duration;
    runner.warmup = shared.warmup;
    runner.connections = shared.connections.map(|c| c as usize);
    loadgen::bench::runner::main(runner)
}

fn attack(a: LoadArgs, shared: &SharedArgs) -> anyhow::Result<()> {
    let Some(url) = a.url else {
        return Err(usage("missing target URL"));
    };
    if let Some(path) = &a.unix_socket {
        use std::os::unix::fs::FileTypeExt;
        match std::fs::metadata(path) {
            Ok(m) if m.file_type().is_socket() => {}
            Ok(_) => return Err(usage(format!("{} is not a Unix socket", path.display()))),
            Err(e) => return Err(usage(format!("--unix-socket {}: {e}", path.display()))),
        }
    }
    let body = match (&a.body, &a.body_file) {
        (Some(b), _) => b.clone().into_bytes(),
        (None, Some(f)) => std::fs::read(f)
            .map_err(|e| usage(format!("cannot read body file {}: {e}", f.display())))?,
        (None, None) => Vec::new(),
    };
    for file in [&a.cert, &a.key].into_iter().flatten() {
        if let Err(e) = std::fs::File::open(file) {
            return Err(usage(format!("cannot read {}: {e}", file.display())));
        }
    }
    let print = if a.no_print {
        PrintSet::NONE
    } else {
        a.print.unwrap_or(PrintSet::ALL)
    };
    let connections = shared.connections.map_or(125, |c| c as usize);
    let cfg = AttackConfig {
        url: url.clone(),
        connections,
        duration: shared.duration,
        requests: a.requests,
        rate: a.rate,
        timeout: a.timeout,
        method: a.method.clone(),
        headers: a.headers.clone(),
        body,
        keep_alive: !a.disable_keep_alives,
        insecure: a.insecure,
        client_cert: a.cert.clone().zip(a.key.clone()),
        threads: a.threads.map_or(0, usize::from),
        cpus: a.cpus.map(|c| c.0),
        progress: print.progress,
        start_at: a.start_at,
        warmup: shared.warmup.unwrap_or_default(),
        stream: a.stream,
        connect_to: a.connect_to.clone(),
        unix_socket: a.unix_socket.clone(),
        http2: a.http2,
        h2c: a.h2c,
        streams: a.streams.unwrap_or(1),
        pipeline: a.pipeline.unwrap_or(1),
    };
    // Everything that can be wrong without the network is reported before the intro.
    loadgen::attack::check(&cfg).map_err(usage)?;
    if cfg.requests.is_some() && cfg.duration.is_none() && !cfg.warmup.is_zero() {
        return Err(usage(
            "--warmup needs a timed run (-d), not a request count (-n)",
        ));
    }
    if print.intro && matches!(a.format, Format::PlainText) {
        let what = match (cfg.duration, cfg.requests) {
            (Some(d), _) => format!("for {}", loadgen::units::format_duration(d)),
            (None, Some(n)) => format!("with {n} request(s)"),
            (None, None) => "for 10s".to_string(),
        };
        println!("Bombarding {url} {what} using {connections} connection(s)");
    }
    let report = loadgen::attack::run(&cfg)?;
    if print.result {
        print_report(&report, &a.format, a.latencies)?;
    }
    Ok(())
}

fn print_report(report: &Report, format: &Format, latencies: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = match format {
        Format::PlainText => report.write_plain(&mut out, latencies),
        Format::Json => serde_json::to_writer(&mut out, report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        Format::Template(t) => {
            let text = t
                .render(report, latencies)
                .context("rendering the -o path: template")?;
            out.write_all(text.as_bytes())
        }
    }
    .and_then(|()| out.flush());
    match written {
        // The reader went away (`| head`): not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

fn merge_files(files: &[PathBuf], format: &Format, latencies: bool) -> anyhow::Result<()> {
    let mut reports = Vec::with_capacity(files.len());
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| usage(format!("cannot read {}: {e}", f.display())))?;
        let r: Report = serde_json::from_str(&text)
            .map_err(|e| usage(format!("{} is not a loadgen JSON report: {e}", f.display())))?;
        reports.push(r);
    }
    let merged = merge(&reports).map_err(usage)?;
    print_report(&merged, format, latencies)
}
