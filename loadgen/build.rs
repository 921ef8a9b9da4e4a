//! Build script: records the toolchain and source revision for the machine section of benchmark
//! results (the runtime image has neither rustc nor git), and embeds `scenarios/*.toml` so the
//! binary can run the suite without the source tree.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version =
        command_output(Command::new(rustc).arg("-V")).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LOADGEN_RUSTC_VERSION={rustc_version}");

    println!("cargo:rerun-if-env-changed=GIT_COMMIT");
    let commit = match std::env::var("GIT_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_string(),
        _ => git_commit(&manifest_dir).unwrap_or_else(|| "unknown".into()),
    };
    println!("cargo:rustc-env=LOADGEN_GIT_COMMIT={commit}");

    let scenarios_dir = manifest_dir.join("../scenarios");
    println!("cargo:rerun-if-changed={}", scenarios_dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&scenarios_dir)
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut code = String::from("&[\n");
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = path.canonicalize().unwrap_or_else(|_| path.clone());
        code.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    code.push(']');
    std::fs::write(out_dir.join("builtin_scenarios.rs"), code).expect("write OUT_DIR file");
}

fn command_output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The source tree's HEAD commit: `git rev-parse`, or by reading `.git` by hand (the Docker build
/// context has `.git/HEAD` and refs but no `git` binary). Re-run when HEAD moves.
fn git_commit(manifest_dir: &Path) -> Option<String> {
    let git_dir = command_output(
        Command::new("git")
            .current_dir(manifest_dir)
            .args(["rev-parse", "--absolute-git-dir"]),
    )
    .map(PathBuf::from)
    .unwrap_or_else(|| manifest_dir.join("../.git"));
    let head_file = git_dir.join("HEAD");
    println!("cargo:rerun-if-changed={}", head_file.display());
    println!(
        "cargo:rerun-if-changed={}",
        git_dir.join("packed-refs").display()
    );
    let head = std::fs::read_to_string(&head_file).ok()?;
    if let Some(reference) = head.trim().strip_prefix("ref: ") {
        println!(
            "cargo:rerun-if-changed={}",
            git_dir.join(reference).display()
        );
    }
    if let Some(commit) = command_output(
        Command::new("git")
            .current_dir(manifest_dir)
            .args(["rev-parse", "HEAD"]),
    ) {
        return Some(commit);
    }
    match head.trim().strip_prefix("ref: ") {
        None => Some(head.trim().to_string()),
        Some(reference) => std::fs::read_to_string(git_dir.join(reference))
            .ok()
            .map(|s| s.trim().to_string())
            .or_else(|| {
                let packed = std::fs::read_to_string(git_dir.join("packed-refs")).ok()?;
                packed.lines().find_map(|line| {
                    let (hash, name) = line.split_once(' ')?;
                    (name.trim() == reference).then(|| hash.to_string())
                })
            }),
    }
}
