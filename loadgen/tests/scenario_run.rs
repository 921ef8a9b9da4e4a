//! A short real run of the scenario runner: built-in contenders plus an external command contender,
//! servers started as child processes of the real `loadgen` binary, results written to a temporary
//! results directory, read back, plotted (PNG decodes) and summarized in README.md.

use std::path::{Path, PathBuf};
use std::process::Command;

use loadgen::bench::results;
use loadgen::bench::runner::RunnerArgs;

const EXE: &str = env!("CARGO_BIN_EXE_loadgen");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn assert_png(path: &Path) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert!(info.width > 0 && info.height > 0);
    assert!(buf.iter().any(|&b| b < 200), "{} is blank", path.display());
}

/// Two tiny scenarios (plain keep-alive, and TLS without keep-alive).
fn write_scenarios(dir: &Path) {
    std::fs::write(
        dir.join("ka.toml"),
        "name = \"tiny keep-alive\"\nconnections = 8\nkeep_alive = true\npayload = 1024\n\
         duration = \"1s\"\nwarmup = \"200ms\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("tls.toml"),
        "name = \"tiny TLS, new connection per request\"\nconnections = 4\nkeep_alive = false\n\
         payload = 100\ntls = true\naes128 = true\nduration = \"2s\"\nwarmup = \"200ms\"\n",
    )
    .unwrap();
}

#[test]
fn short_real_run_writes_results_plots_and_readme() {
    let root = temp_dir("run");
    let scenarios = root.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    write_scenarios(&scenarios);
    let results_dir = root.join("results");

    let args = RunnerArgs {
        scenario: Some("all".into()),
        threads: vec![1],
        contenders: vec![
            "builtin".into(),
            // The external path (placeholders, connect polling, process group), without TLS:
            // it must be skipped for the TLS scenario.
            "ext=exec {bin} serve hyper --listen {addr} --payload {payload} --keep-alive {keepalive} --threads {threads}".into(),
        ],
        scenarios_dir: Some(scenarios),
        results_dir: results_dir.clone(),
        server_exe: Some(EXE.into()),
        ..RunnerArgs::default()
    };
    loadgen::bench::runner::main(args).unwrap();

    let run_dir = results::latest_run_dir(&results_dir).expect("a run directory");
    let run = results::read_run_dir(&run_dir).unwrap();
    let manifest = run.manifest.as_ref().expect("run.json");
    assert!(
        manifest.failed.is_empty(),
        "failed runs: {:#?}",
        manifest.failed
    );
    assert_eq!(manifest.skipped.len(), 1, "{:#?}", manifest.skipped);
    assert_eq!(
        (
            manifest.skipped[0].scenario.as_str(),
            manifest.skipped[0].contender.as_str()
        ),
        ("tls", "ext")
    );
    let names: Vec<(String, String)> = run
        .records
        .iter()
        .map(|r| (r.scenario.id.clone(), r.contender.clone()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("ka", "tcpserver-per-core"),
        ("ka", "tcpserver-shared"),
        ("ka", "hyper"),
        ("ka", "ext"),
        ("tls", "tcpserver-per-core"),
        ("tls", "tcpserver-shared"),
        ("tls", "hyper"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(names, expected);
    for r in &run.records {
        let what = format!("{} × {}", r.scenario.id, r.contender);
        assert!(r.report.result.requests > 0, "{what}: no requests");
        assert!(r.report.result.req2xx > 0, "{what}: no 2xx");
        assert!(r.requests_per_second > 0.0, "{what}");
        assert!(
            !r.report.result.histogram.is_empty(),
            "{what}: no histogram"
        );
        assert!(r.server.peak_rss_kib > 0, "{what}: no server RSS");
        assert!(r.server.cpu_seconds > 0.0, "{what}: no server CPU");
        assert_eq!((r.threads, r.repeat), (1, 1));
        assert!(r.failure.is_none(), "{what}: {:?}", r.failure);
        assert!(r.server.cpu_us_per_request.is_some_and(|us| us > 0.0));
        assert_eq!(r.scenario.file_sha256.len(), 64, "{what}");
        assert!(
            r.contender_command.contains(" serve ") && r.contender_command.contains("--payload"),
            "{what}: {}",
            r.contender_command
        );
        assert!(!r.machine.cpu_model.is_empty());
        // The JSON round-trips.
        let path = run_dir.join(results::record_file_name(
            &r.scenario.id,
            &r.contender,
            1,
            1,
        ));
        let text = std::fs::read_to_string(&path).unwrap();
        let back: results::RunRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(&back, r);
    }
    for id in ["ka", "tls"] {
        let files = results::chart_files(id);
        for chart in [files.rps, files.cpu, files.latency] {
            assert_png(&run_dir.join(chart));
        }
    }
    let readme = std::fs::read_to_string(results_dir.join("README.md")).unwrap();
    assert!(
        readme.contains("## Scenario ka: tiny keep-alive"),
        "{readme}"
    );
    assert!(readme.contains("| tcpserver-per-core | 1 |"), "{readme}");
    assert!(readme.contains("ext cannot do aes128, tls"), "{readme}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn cli_lists_scenarios_and_rejects_bad_files() {
    let out = Command::new(EXE).arg("--list").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "AES-128-CBC 1 kB, massive connections",
        "1t",
        "tcpserver-per-core",
        "nginx",
    ] {
        assert!(stdout.contains(needle), "--list lacks {needle}: {stdout}");
    }

    let dir = temp_dir("cli-bad");
    std::fs::write(
        dir.join("9.toml"),
        "name = \"x\"\nkeep_alive = true\npayload = 1\nconections = 5\n",
    )
    .unwrap();
    let out = Command::new(EXE)
        .args(["--scenario", "9", "--scenarios-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("9.toml") && stderr.contains("conections"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_server_that_does_not_start_is_reported() {
    let root = temp_dir("bad-server");
    let scenarios = root.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    write_scenarios(&scenarios);
    let args = RunnerArgs {
        scenario: Some("ka".into()),
        threads: vec![1],
        contenders: vec!["broken=echo cannot bind {addr} >&2; exit 3".into()],
        scenarios_dir: Some(scenarios),
        results_dir: root.join("results"),
        server_exe: Some(EXE.into()),
        ..RunnerArgs::default()
    };
    let err = format!("{:#}", loadgen::bench::runner::main(args).unwrap_err());
    assert!(err.contains("1 run(s) failed"), "{err}");
    let run_dir = results::latest_run_dir(&root.join("results")).unwrap();
    let manifest = results::read_run_dir(&run_dir).unwrap().manifest.unwrap();
    let reason = &manifest.failed[0].reason;
    assert!(
        reason.contains("exit status: 3") && reason.contains("cannot bind 127.0.0.1:"),
        "{reason}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn too_few_open_files_is_a_clear_error() {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(EXE);
    cmd.args([
        "--scenario",
        "1",
        "--connections",
        "1000",
        "--no-plot",
        "--results-dir",
    ])
    .arg(std::env::temp_dir().join("loadgen-nofile-unused"));
    // SAFETY: only setrlimit between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 256,
                rlim_max: 256,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("RLIMIT_NOFILE is too low for 1000 connections")
            && stderr.contains("ulimit -n"),
        "{stderr}"
    );
}

/// A server that answers nothing within the run (every request sleeps 3 s, the run lasts 1 s): each
/// repeat is failed, with no CPU per request; charts and README say so; `--allow-failures` makes
/// it exit 0, without it the runner fails.
#[test]
fn a_server_that_serves_nothing_is_failed_everywhere() {
    let root = temp_dir("serves-nothing");
    let scenarios = root.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    write_scenarios(&scenarios);
    let results_dir = root.join("results");
    let stall = "stall=exec {bin} serve hyper --listen {addr} --payload {payload} \
                 --keep-alive {keepalive} --threads 1 --sleep-ms 3000";
    let args = RunnerArgs {
        scenario: Some("ka".into()),
        threads: vec![1],
        contenders: vec![stall.into()],
        scenarios_dir: Some(scenarios.clone()),
        results_dir: results_dir.clone(),
        server_exe: Some(EXE.into()),
        connections: Some(2),
        repeat: 2,
        allow_failures: true,
        ..RunnerArgs::default()
    };
    loadgen::bench::runner::main(args.clone()).unwrap();
    let run_dir = results::latest_run_dir(&results_dir).unwrap();
    let run = results::read_run_dir(&run_dir).unwrap();
    assert_eq!(run.records.len(), 2);
    for r in &run.records {
        let failure = r.failure.as_ref().expect("judged failed");
        assert_eq!(failure.reason, "no successful request");
        assert_eq!(r.server.cpu_us_per_request, None);
    }
    let manifest = run.manifest.as_ref().unwrap();
    assert_eq!(manifest.failed.len(), 2, "{:#?}", manifest.failed);
    assert_eq!(manifest.repeats, 2);
    let points = results::points(&run);
    assert_eq!(points.len(), 1);
    assert!(points[0].is_failed() && points[0].median_run().is_none());
    let readme = std::fs::read_to_string(results_dir.join("README.md")).unwrap();
    assert!(
        readme.contains("| stall | 1 | 2 (2 failed) | **FAILED**: no successful request"),
        "{readme}"
    );
    let files = results::chart_files("ka");
    for chart in [files.rps, files.cpu, files.latency] {
        assert_png(&run_dir.join(chart));
    }

    let strict = RunnerArgs {
        allow_failures: false,
        repeat: 1,
        no_plot: true,
        ..args
    };
    let err = format!("{:#}", loadgen::bench::runner::main(strict).unwrap_err());
    assert!(
        err.contains("1 run(s) failed") && err.contains("--allow-failures"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn pipelined_and_http2_scenarios_run_and_skip_http1_only_servers() {
    let root = temp_dir("protocols");
    let scenarios = root.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    std::fs::write(
        scenarios.join("p.toml"),
        "name = \"tiny pipelined\"\nconnections = 4\nkeep_alive = true\npayload = 64\n\
         pipeline = 8\nduration = \"1s\"\nwarmup = \"0s\"\n",
    )
    .unwrap();
    std::fs::write(
        scenarios.join("h2.toml"),
        "name = \"tiny HTTP/2\"\nconnections = 2\nkeep_alive = true\npayload = 64\ntls = true\n\
         http2 = true\nstreams = 4\nduration = \"1s\"\nwarmup = \"0s\"\n",
    )
    .unwrap();
    let results_dir = root.join("results");
    let args = RunnerArgs {
        scenario: Some("all".into()),
        threads: vec![1],
        contenders: vec!["builtin".into()],
        scenarios_dir: Some(scenarios),
        results_dir: results_dir.clone(),
        server_exe: Some(EXE.into()),
        ..RunnerArgs::default()
    };
    loadgen::bench::runner::main(args).unwrap();
    let run = results::read_run_dir(&results::latest_run_dir(&results_dir).unwrap()).unwrap();
    let manifest = run.manifest.as_ref().expect("run.json");
    assert!(manifest.failed.is_empty(), "{:#?}", manifest.failed);
    let mut skipped: Vec<_> = manifest
        .skipped
        .iter()
        .map(|s| (s.scenario.as_str(), s.contender.as_str()))
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        [("h2", "tcpserver-per-core"), ("h2", "tcpserver-shared")]
    );
    for r in &run.records {
        let what = format!("{} × {}", r.scenario.id, r.contender);
        assert!(r.report.result.req2xx > 0, "{what}: no 2xx");
        assert_eq!(r.report.result.error_classes.total(), 0, "{what}");
        match r.scenario.id.as_str() {
            "p" => assert_eq!(r.report.spec.pipeline, 8, "{what}"),
            _ => assert_eq!(
                (r.report.spec.protocol.as_str(), r.report.spec.streams),
                ("HTTP/2", 4),
                "{what}"
            ),
        }
    }
    assert_eq!(run.records.len(), 4);
    let _ = std::fs::remove_dir_all(&root);
}
