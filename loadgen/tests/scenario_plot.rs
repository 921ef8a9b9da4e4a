//! Charts and README from synthetic results (no server needed): files exist, PNGs decode.

use std::path::{Path, PathBuf};

use loadgen::bench::machine::Machine;
use loadgen::bench::results::{self, RunManifest, RunRecord, ServerUsage, Skipped};
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

#[test]
fn plots_and_readme_from_results() {
    let results_dir = temp_dir("plot");
    let run_dir = results_dir.join("2026-11-26T000000Z");
    std::fs::create_dir_all(&run_dir).unwrap();
    let machine = Machine::detect();
    let scenarios = scenario::builtin().unwrap();
    let contenders = ["tcpserver-per-core", "tcpserver-shared", "hyper"];
    for s in scenarios.iter().filter(|s| s.id == "2" || s.id == "3") {
        for (ci, contender) in contenders.iter().enumerate() {
            for threads in [1, 2] {
                let mut report = Report::default();
                report.result.histogram = histogram(ci as u64 + 1);
                report.result.latency.percentiles =
                    [("50".to_string(), 300), ("99".to_string(), 900)].into();
                let rps = 50_000.0 * threads as f64 / (ci as f64 + 1.0);
                let record = RunRecord {
                    scenario: s.clone(),
                    contender: contender.to_string(),
                    contender_description: String::new(),
                    threads,
                    server_cpus: vec![0],
                    client_cpus: vec![1],
                    started_at: "2026-11-26T00:00:00Z".into(),
                    requests_per_second: rps,
                    errors: 0,
                    server: ServerUsage {
                        cpu_seconds: 1.0,
                        cpu_us_per_request: 20.0,
                        peak_rss_kib: 10_240,
                        processes: 1,
                    },
                    client_cpu_seconds: 1.0,
                    machine: machine.clone(),
                    report,
                };
                results::write_record(&run_dir, &record).unwrap();
            }
        }
    }
    let manifest = RunManifest {
        started_at: "2026-11-26T00:00:00Z".into(),
        command: "loadgen --scenario 2,3".into(),
        machine,
        server_cpus: vec![0],
        client_cpus: vec![1],
        threads: vec![1, 2],
        contenders: contenders.iter().map(|c| c.to_string()).collect(),
        scenarios: vec!["2".into(), "3".into()],
        skipped: vec![Skipped {
            scenario: "3".into(),
            contender: "nginx".into(),
            threads: None,
            reason: "needs aes128".into(),
        }],
        failed: vec![],
    };
    results::write_json(&run_dir.join(results::MANIFEST), &manifest).unwrap();

    loadgen::bench::plot::main(Some(results_dir.clone())).unwrap();
    for id in ["2", "3"] {
        let (rps, latency) = results::chart_files(id);
        assert_png(&run_dir.join(rps));
        assert_png(&run_dir.join(latency));
    }
    let readme = std::fs::read_to_string(results_dir.join("README.md")).unwrap();
    assert!(
        readme.contains("## Scenario 3: AES-128-CBC 1 kB, massive connections"),
        "{readme}"
    );
    assert!(readme.contains("| hyper | 2 | 33.3k |"), "{readme}");
    assert!(
        readme.contains("2026-11-26T000000Z/scenario-2-rps.png"),
        "{readme}"
    );
    assert!(readme.contains("needs aes128"), "{readme}");
    if std::env::var_os("KEEP_PLOTS").is_none() {
        let _ = std::fs::remove_dir_all(&results_dir);
    }
}
