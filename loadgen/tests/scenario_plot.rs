//! Charts and README from synthetic results (no server needed): files exist, PNGs decode.

use std::path::{Path, PathBuf};

use loadgen::bench::machine::Machine;
use loadgen::bench::results::{
    self, Failure, Metric, RunManifest, RunRecord, ServerUsage, Skipped,
};
use loadgen::bench::scenario;
use loadgen::report::Report;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn histogram(scale: u64) -> String {
    let mut h = loadgen::report::new_latency_histogram();
    for i in 1..=10_000u64 {
        h.saturating_record(scale * (100 + i % 500) + if i % 1000 == 0 { 50_000 } else { 0 });
    }
    loadgen::report::encode_histogram(&h)
}

fn assert_png(path: &Path) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert!(
        info.width >= 800 && info.height >= 500,
        "{}",
        path.display()
    );
    // Not a blank image: some pixels are not white.
    assert!(buf.iter().any(|&b| b < 200), "{} is blank", path.display());
}

fn record(
    s: &scenario::Scenario,
    contender: &str,
    threads: usize,
    repeat: usize,
    rps: f64,
    machine: &Machine,
) -> RunRecord {
    let mut report = Report::default();
    report.result.histogram = histogram(repeat as u64);
    report.result.latency.percentiles = [("50".to_string(), 300), ("99".to_string(), 900)].into();
    report.result.requests = rps as u64;
    report.result.req2xx = rps as u64;
    RunRecord {
        scenario: s.clone(),
        contender: contender.to_string(),
        contender_description: String::new(),
        contender_command: format!("{contender} --listen 127.0.0.1:1234"),
        threads,
        repeat,
        server_cpus: vec![0],
        client_cpus: vec![1],
        started_at: "2026-11-26T00:00:00Z".into(),
        requests_per_second: rps,
        errors: 0,
        failure: None,
        server: ServerUsage {
            cpu_seconds: 1.0,
            cpu_us_per_request: Some(1e6 / rps),
            peak_rss_kib: 10_240,
            processes: 1,
        },
        client_cpu_seconds: 1.0,
        machine: machine.clone(),
        report,
    }
}

/// Three repeats of three contenders, a fourth that served nothing (judged failed, with a record)
/// and a fifth that never started (failed in `run.json` only).
#[test]
fn plots_and_readme_show_spread_and_failures() {
    let results_dir = temp_dir("plot");
    let run_dir = results_dir.join("2026-11-26T000000Z");
    std::fs::create_dir_all(&run_dir).unwrap();
    let machine = Machine::detect();
    let scenarios = scenario::builtin().unwrap();
    let contenders = ["tcpserver-per-core", "tcpserver-shared", "hyper", "broken"];
    let mut failed = Vec::new();
    for s in scenarios.iter().filter(|s| s.id == "2" || s.id == "3") {
        assert_eq!(s.file_sha256.len(), 64, "{}", s.file_sha256);
        for repeat in 1..=3 {
            for (ci, contender) in contenders.iter().enumerate() {
                for threads in [1, 2] {
                    // hyper's repeats vary by ±8% (noisy); the others by ±1%.
                    let jitter = if *contender == "hyper" { 0.08 } else { 0.01 };
                    let factor = 1.0 + jitter * (repeat as f64 - 2.0);
                    let rps = 50_000.0 * threads as f64 / (ci as f64 + 1.0) * factor;
                    let mut r = record(s, contender, threads, repeat, rps, &machine);
                    if *contender == "broken" {
                        r.requests_per_second = 0.0;
                        r.report.result = Default::default();
                        r.report.result.error_classes.connect = 2000;
                        r.server.cpu_us_per_request = None;
                        r.errors = 2000;
                        r.failure = Failure::judge(&r.report.result, 0.01);
                        failed.push(Skipped {
                            scenario: s.id.clone(),
                            contender: contender.to_string(),
                            threads: Some(threads),
                            repeat: Some(repeat),
                            reason: r.failure.as_ref().unwrap().describe(),
                        });
                    }
                    results::write_record(&run_dir, &r).unwrap();
                }
            }
            failed.push(Skipped {
                scenario: s.id.clone(),
                contender: "nostart".into(),
                threads: Some(1),
                repeat: Some(repeat),
                reason: "starting nostart: exited with status 1".into(),
            });
        }
    }
    let manifest = RunManifest {
        started_at: "2026-11-26T00:00:00Z".into(),
        command: "loadgen --scenario 2,3 --repeat 3".into(),
        machine,
        server_cpus: vec![0],
        client_cpus: vec![1],
        threads: vec![1, 2],
        repeats: 3,
        contenders: contenders
            .iter()
            .map(|c| c.to_string())
            .chain(["nostart".to_string()])
            .collect(),
        scenarios: vec!["2".into(), "3".into()],
        skipped: vec![Skipped {
            scenario: "3".into(),
            contender: "nginx".into(),
            threads: None,
            repeat: None,
            reason: "needs aes128".into(),
        }],
        failed,
    };
    results::write_json(&run_dir.join(results::MANIFEST), &manifest).unwrap();

    let run = results::read_run_dir(&run_dir).unwrap();
    let points = results::points(&run);
    assert_eq!(points.len(), 2 * (4 * 2 + 1), "{points:#?}");
    for p in &points {
        let failed = p.contender == "broken" || p.contender == "nostart";
        assert_eq!(p.is_failed(), failed, "{p:#?}");
        assert_eq!(p.runs(), 3);
        if failed {
            assert!(p.spread(Metric::Rps).is_none());
            assert!(p.spread(Metric::Cpu).is_none());
            assert!(p.median_run().is_none());
        } else {
            let rps = p.spread(Metric::Rps).unwrap();
            assert_eq!(rps.n, 3);
            assert!(rps.min < rps.median && rps.median < rps.max);
            assert_eq!(rps.is_noisy(), p.contender == "hyper", "{rps:?}");
        }
    }

    loadgen::bench::plot::main(Some(results_dir.clone())).unwrap();
    for id in ["2", "3"] {
        let files = results::chart_files(id);
        for chart in [files.rps, files.cpu, files.latency] {
            assert_png(&run_dir.join(chart));
        }
    }
    let readme = std::fs::read_to_string(results_dir.join("README.md")).unwrap();
    assert!(
        readme.contains("## Scenario 3: AES-128-CBC 1 kB, massive connections"),
        "{readme}"
    );
    // hyper t2: 33.3k median, min–max of the three repeats, CV 8% flagged.
    assert!(
        readme.contains("| hyper | 2 | 3 | 33.3k (30.7k–36.0k) | 8.0% ⚠ |"),
        "{readme}"
    );
    assert!(
        readme.contains("| tcpserver-per-core | 1 | 3 | 50.0k (49.5k–50.5k) | 1.0% |"),
        "{readme}"
    );
    assert!(
        readme.contains(
            "| broken | 1 | 3 (3 failed) | **FAILED**: no successful request (connect 2000) | -"
        ),
        "{readme}"
    );
    assert!(
        readme.contains("| nostart | 1 | 3 (3 failed) | **FAILED**: starting nostart"),
        "{readme}"
    );
    assert!(
        readme.contains("2026-11-26T000000Z/scenario-2-cpu.png"),
        "{readme}"
    );
    assert!(readme.contains("needs aes128"), "{readme}");
    assert!(readme.contains("Scenario file SHA-256: `"), "{readme}");
    assert!(
        readme.contains("`hyper --listen 127.0.0.1:1234`"),
        "{readme}"
    );
    if std::env::var_os("KEEP_PLOTS").is_none() {
        let _ = std::fs::remove_dir_all(&results_dir);
    }
}
