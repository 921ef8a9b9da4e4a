//! Scenario files: the shipped ones parse, user files are picked up, bad files get errors that name
//! the file and the field.

use std::path::{Path, PathBuf};
use std::time::Duration;

use loadgen::bench::contender::Contender;
use loadgen::bench::scenario::{self, Feature, Scenario};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn repo_scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

#[test]
fn shipped_scenarios_match_the_issue_table() {
    let all = scenario::load_dir(&repo_scenarios()).unwrap();
    let table: Vec<(&str, usize, bool, usize, bool, u64, bool)> = all
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                s.connections,
                s.keep_alive,
                s.payload,
                s.aes128,
                s.sleep_ms,
                s.tls,
            )
        })
        .collect();
    assert_eq!(
        table,
        [
            ("1", 1000, false, 1024, false, 0, false),
            ("2", 1000, true, 1024, false, 0, false),
            ("3", 1000, false, 1024, true, 0, false),
            ("4", 1000, true, 1024, true, 0, false),
            ("5", 1000, true, 128, false, 1, false),
            ("6", 1000, false, 16384, false, 0, false),
            ("1t", 1000, false, 1024, false, 0, true),
            ("2h2", 1000, true, 1024, false, 0, true),
            ("2p", 1000, true, 1024, false, 0, false),
            ("2t", 1000, true, 1024, false, 0, true),
        ]
    );
    let protocol = |id: &str| {
        let s = all.iter().find(|s| s.id == id).unwrap();
        (s.http2, s.streams, s.pipeline)
    };
    assert_eq!(protocol("2p"), (false, 1, 16));
    assert_eq!(protocol("2h2"), (true, 10, 1));
    assert_eq!(protocol("2"), (false, 1, 1));
    for s in &all {
        assert_eq!(s.duration, Duration::from_secs(10), "{}", s.id);
        assert_eq!(s.warmup, Duration::from_secs(2), "{}", s.id);
    }
    // The built-in copy is the same as the files.
    assert_eq!(scenario::builtin().unwrap(), all);
}

#[test]
fn a_user_adds_a_scenario_by_adding_a_file() {
    let dir = temp_dir("user-scenario");
    std::fs::write(
        dir.join("big.toml"),
        "name = \"static 64 kB\"\nkeep_alive = true\npayload = 65536\nduration = \"3s\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("README.txt"), "not a scenario").unwrap();
    let all = scenario::load_dir(&dir).unwrap();
    assert_eq!(all.len(), 1);
    let s = &all[0];
    assert_eq!(
        (s.id.as_str(), s.connections, s.payload),
        ("big", 1000, 65536)
    );
    assert_eq!(
        (s.duration, s.warmup),
        (Duration::from_secs(3), Duration::from_secs(2))
    );
    assert!(s.required_features().is_empty());
    assert_eq!(scenario::select(&all, "big").unwrap().len(), 1);
    let err = scenario::select(&all, "7").unwrap_err().to_string();
    assert!(err.contains("`7`") && err.contains("big"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn parse_error(text: &str) -> String {
    Scenario::from_toml(text, Path::new("scenarios/broken.toml"))
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_files_name_the_file_and_the_field() {
    let base = "name = \"x\"\nkeep_alive = true\npayload = 1024\n";
    for (extra, field) in [
        ("payloads = 5\n", "payloads"),              // unknown field (typo)
        ("connections = \"many\"\n", "connections"), // wrong type
        ("duration = \"10x\"\n", "duration"),        // bad duration
        ("warmup = 5\n", "warmup"),                  // duration must be a string
        ("connections = 0\n", "connections"),        // out of range
        ("tls = \"yes\"\n", "tls"),
    ] {
        let err = parse_error(&format!("{base}{extra}"));
        assert!(err.contains("scenarios/broken.toml"), "{extra}: {err}");
        assert!(
            err.contains(field),
            "{extra}: error does not name `{field}`: {err}"
        );
    }
    // A missing required field.
    let err = parse_error("name = \"x\"\nkeep_alive = true\n");
    assert!(
        err.contains("payload") && err.contains("broken.toml"),
        "{err}"
    );

    // Through the directory loader too, and duplicate ids.
    let dir = temp_dir("bad-scenario");
    std::fs::write(dir.join("a.toml"), format!("{base}colour = 1\n")).unwrap();
    let err = scenario::load_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("a.toml") && err.contains("colour"), "{err}");
    std::fs::write(dir.join("a.toml"), format!("id = \"same\"\n{base}")).unwrap();
    std::fs::write(dir.join("b.toml"), format!("id = \"same\"\n{base}")).unwrap();
    let err = scenario::load_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("same") && err.contains("twice"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shipped_contender_files_parse() {
    let dir = repo_scenarios().join("contenders");
    let nginx = &Contender::parse("nginx", Some(&dir)).unwrap()[0];
    assert_eq!(nginx.name, "nginx");
    let all = scenario::load_dir(&repo_scenarios()).unwrap();
    let runnable: Vec<&str> = all
        .iter()
        .filter(|s| nginx.missing_features(s).is_empty())
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(runnable, ["1", "2", "6", "1t", "2h2", "2p", "2t"]);
    assert!(!nginx.features.contains(&Feature::Aes128));

    let bad = temp_dir("bad-contender");
    std::fs::write(
        bad.join("x.toml"),
        "name = \"x\"\ncommand = \"true\"\nfeature = []\n",
    )
    .unwrap();
    let err = Contender::parse(bad.join("x.toml").to_str().unwrap(), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("x.toml") && err.contains("feature"), "{err}");
    let _ = std::fs::remove_dir_all(&bad);
}
