//! Static checks of the Dockerfile that need no Docker engine: every path it copies from the build
//! context exists, the dependency layer copies every workspace manifest, the base images are
//! pinned build arguments, nothing needs Docker Hub's BuildKit frontend, and the entrypoint's
//! default arguments and the README's documented ones are accepted by loadgen.
//! `scripts/docker-test.sh` (run by `.ci/run`) builds and runs the image with a real engine.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("loadgen/ has a parent")
        .to_path_buf()
}

fn dockerfile() -> String {
    std::fs::read_to_string(repo_root().join("Dockerfile")).expect("Dockerfile at the repo root")
}

/// The JSON array of an exec-form instruction such as `CMD ["--scenario", "all"]`.
fn exec_form(instruction: &str) -> Vec<String> {
    let text = dockerfile();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{instruction} ")))
        .unwrap_or_else(|| panic!("Dockerfile has no {instruction}"));
    let json = line[instruction.len()..].trim();
    serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("{instruction} is not exec form ({e}): {line}"))
}

#[test]
fn every_copied_path_exists() {
    let root = repo_root();
    let mut checked = 0;
    for line in dockerfile().lines() {
        let Some(rest) = line.strip_prefix("COPY ") else {
            continue;
        };
        let args: Vec<&str> = rest.split_whitespace().collect();
        if args.iter().any(|a| a.starts_with("--from")) {
            continue; // copies from another stage, not from the build context
        }
        let sources = &args[..args.len() - 1];
        assert!(!sources.is_empty(), "COPY without a source: {line}");
        for src in sources {
            let path = root.join(src);
            assert!(
                path.exists(),
                "Dockerfile copies {src}, which does not exist: {line}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 5,
        "expected the manifests, sources, scenarios and the font's licence to be copied"
    );
}

/// The chart font is compiled into loadgen (`include_bytes!` in `bench/plot.rs`): the image
/// carries its licence, not a second copy of the font.
#[test]
fn font_is_compiled_in_and_only_its_licence_is_copied() {
    let text = dockerfile();
    let copies: Vec<&str> = text.lines().filter(|l| l.starts_with("COPY ")).collect();
    for copy in &copies {
        assert!(
            !copy.contains(".ttf")
                && !copy.contains("assets/fonts/ ")
                && !copy.contains("assets/ "),
            "the font is compiled into loadgen, the image need not copy it: {copy}"
        );
    }
    assert!(
        copies
            .iter()
            .any(|l| l.starts_with("COPY assets/fonts/DejaVuSans-LICENSE.txt ")),
        "the font's licence is not in the image"
    );
    let plot = std::fs::read_to_string(repo_root().join("loadgen/src/bench/plot.rs"))
        .expect("loadgen/src/bench/plot.rs");
    assert!(
        plot.contains(r#"include_bytes!("../../../assets/fonts/DejaVuSans.ttf")"#),
        "plot.rs no longer compiles the font in: the image must copy it again"
    );
}

#[test]
fn entrypoint_is_loadgen_and_its_arguments_are_accepted() {
    assert_eq!(exec_form("ENTRYPOINT"), ["loadgen"]);
    let cmd = exec_form("CMD");
    // The default arguments, and the README's one-scenario example. `--list` makes loadgen parse
    // and validate the runner flags, then list instead of running the benchmark.
    for args in [
        cmd,
        vec![
            "--scenario".into(),
            "3".into(),
            "--duration".into(),
            "5s".into(),
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(&args)
            .arg("--list")
            .output()
            .expect("run loadgen");
        assert!(
            out.status.success(),
            "loadgen rejects {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("scenarios"));
    }
    // And a bad flag is refused, so the check above can fail.
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--scenario", "3", "--no-such-flag", "--list"])
        .output()
        .expect("run loadgen");
    assert!(!out.status.success());
}

/// The `## Docker` section of README.md.
fn readme_docker_section() -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let start = readme
        .find("\n## Docker\n")
        .expect("README has a ## Docker section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_string()
}

#[test]
fn no_syntax_directive_and_base_images_are_pinned_build_arguments() {
    let text = dockerfile();
    // `# syntax=` makes BuildKit fetch a frontend image from Docker Hub before anything else.
    assert!(
        !text.lines().take_while(|l| l.starts_with('#')).any(|l| l
            .to_ascii_lowercase()
            .replace(' ', "")
            .starts_with("#syntax=")),
        "the Dockerfile must not need Docker Hub's BuildKit frontend"
    );
    let args: Vec<(&str, &str)> = text
        .lines()
        .take_while(|l| !l.starts_with("FROM "))
        .filter_map(|l| l.strip_prefix("ARG ")?.split_once('='))
        .collect();
    let froms: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "a build stage and a runtime stage");
    for from in froms {
        let image = from.split_whitespace().next().unwrap_or_default();
        let name = image
            .strip_prefix("${")
            .and_then(|n| n.strip_suffix('}'))
            .unwrap_or_else(|| panic!("FROM {image} is not a build argument"));
        let (_, default) = args
            .iter()
            .find(|(arg, _)| *arg == name)
            .unwrap_or_else(|| panic!("no `ARG {name}=...` before the first FROM"));
        let tag = default.rsplit_once(':').map(|(_, tag)| tag).unwrap_or("");
        assert!(
            tag.chars().next().is_some_and(|c| c.is_ascii_digit()) && tag != "latest",
            "ARG {name}={default}: the default must be a pinned version tag"
        );
    }
}

#[test]
fn dependency_layer_copies_every_workspace_manifest() {
    let root = repo_root();
    let workspace: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml"))
            .expect("Cargo.toml parses");
    let members = workspace["workspace"]["members"]
        .as_array()
        .expect("workspace members");
    let text = dockerfile();
    let deps_run = text
        .split("\nRUN ")
        .find(|r| r.starts_with("sh scripts/docker-build-deps.sh"))
        .expect("a RUN of scripts/docker-build-deps.sh");
    for member in members {
        let manifest = format!("{}/Cargo.toml", member.as_str().expect("member path"));
        assert!(
            text.lines()
                .any(|l| l == format!("COPY {manifest} {manifest}")),
            "the dependency layer does not copy {manifest}"
        );
        assert!(
            deps_run.contains(&manifest),
            "scripts/docker-build-deps.sh is not given {manifest}"
        );
    }
}

#[test]
fn readme_docker_commands_are_accepted_and_keep_results_owned_by_the_user() {
    let section = readme_docker_section();
    // The first code block; join its shell continuation lines, then take each `docker run`.
    let block = section
        .split("```")
        .nth(1)
        .expect("a code block in README's Docker section");
    let joined = block.replace("\\\n", " ");
    let runs: Vec<&str> = joined
        .lines()
        .filter_map(|l| l.find("docker run ").map(|i| &l[i..]))
        .collect();
    assert!(runs.len() >= 2, "README shows the docker run commands");
    for run in runs {
        let words: Vec<&str> = run
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if words.iter().any(|w| w.contains(":/bench/results")) {
            assert!(
                words.contains(&"--user"),
                "a mounted results folder needs --user \"$(id -u):$(id -g)\": {run}"
            );
        }
        let image = words
            .iter()
            .position(|w| *w == "tcpserver-bench")
            .unwrap_or_else(|| panic!("no image name in: {run}"));
        let args = &words[image + 1..];
        if args.is_empty() || !args.iter().any(|a| a.starts_with("--")) {
            continue; // the image's CMD, checked in entrypoint_is_loadgen_and_its_arguments_are_accepted
        }
        let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(args)
            .arg("--list")
            .output()
            .expect("run loadgen");
        assert!(
            out.status.success(),
            "loadgen rejects the README's {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn dockerignore_keeps_build_output_and_results_out() {
    let ignore = std::fs::read_to_string(repo_root().join(".dockerignore")).expect(".dockerignore");
    for entry in ["target/", "results/"] {
        assert!(
            ignore.lines().any(|l| l.trim() == entry),
            ".dockerignore lacks {entry}"
        );
    }
}
