#!/bin/sh
# The Dockerfile's dependency layer: compiles the workspace's dependencies from the manifests and
# Cargo.lock alone, so the layer stays cached until a manifest or the lock file changes.
#
#   scripts/docker-build-deps.sh MANIFEST... -- CARGO_BUILD_ARGS...
#   e.g. scripts/docker-build-deps.sh server/Cargo.toml loadgen/Cargo.toml -- -p loadgen --bins
#
# 1. Creates an empty file for every target each manifest names (lib, bins, benches, build script),
#    so cargo can load the workspace without the sources.
# 2. Runs `cargo build --release --locked CARGO_BUILD_ARGS`.
# 3. Removes everything of the workspace's own packages from target/ (`cargo clean -p`) and the
#    stub files, so the layer holds only compiled dependencies. Nothing built from a stub is left
#    for cargo to mistake for up to date once the real sources are copied over it (file times in
#    the build context are older than the stubs): the real build scripts run, every crate root is
#    compiled from its real source, whatever files are added later.
set -eu

manifests=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    manifests="$manifests $1"
    shift
done
[ "${1:-}" = "--" ] || { echo "usage: $0 MANIFEST... -- CARGO_BUILD_ARGS..." >&2; exit 2; }
shift
[ -n "$manifests" ] || { echo "usage: $0 MANIFEST... -- CARGO_BUILD_ARGS..." >&2; exit 2; }

created=$(mktemp)
# Creates FILE with CONTENT unless it exists, and remembers it for removal.
stub() {
    [ -e "$1" ] && return 0
    mkdir -p "$(dirname "$1")"
    printf '%s\n' "$2" > "$1"
    echo "$1" >> "$created"
}

packages=""
for manifest in $manifests; do
    dir=$(dirname "$manifest")
    # [package] name, for `cargo clean -p`.
    name=$(awk '/^\[/ { section = $0 } section == "[package]" && /^name *=/ {
        sub(/^name *= *"/, ""); sub(/".*/, ""); print; exit }' "$manifest")
    [ -n "$name" ] && packages="$packages -p $name"
    # Explicit targets ([lib], [[bin]], [[bench]], [[test]], [[example]]) with their paths, or
    # cargo's default paths.
    awk -v dir="$dir" '
        function flush() {
            if (kind != "") {
                if (path == "") {
                    if (kind == "lib") path = "src/lib.rs";
                    else if (kind == "bin") path = "src/bin/" name ".rs";
                    else if (kind == "bench") path = "benches/" name ".rs";
                    else if (kind == "test") path = "tests/" name ".rs";
                    else if (kind == "example") path = "examples/" name ".rs";
                }
                print kind " " dir "/" path;
            }
            kind = ""; name = ""; path = "";
        }
        /^\[\[(bin|bench|test|example)\]\]/ || /^\[lib\]/ { flush(); kind = $0; gsub(/[\[\] ]/, "", kind); next }
        /^\[/ { flush(); next }
        kind != "" && /^name *=/ { name = $0; sub(/^name *= *"/, "", name); sub(/".*/, "", name) }
        kind != "" && /^path *=/ { path = $0; sub(/^path *= *"/, "", path); sub(/".*/, "", path) }
        END { flush() }
    ' "$manifest" > "$created.targets"
    while read -r kind target; do
        if [ "$kind" = lib ]; then stub "$target" ""; else stub "$target" 'fn main() {}'; fi
    done < "$created.targets"
    rm -f "$created.targets"
    # And cargo's default roots: with both, every package has a library and a binary, so
    # `--bins`, `--lib` or neither all compile the whole dependency graph.
    stub "$dir/src/lib.rs" ""
    stub "$dir/src/main.rs" 'fn main() {}'
    build=$(awk '/^\[/ { section = $0 } section == "[package]" && /^build *= *"/ {
        sub(/^build *= *"/, ""); sub(/".*/, ""); print; exit }' "$manifest")
    [ -n "$build" ] && stub "$dir/$build" 'fn main() {}'
done

cargo build --release --locked "$@"
# shellcheck disable=SC2086 # one word per -p and package name
cargo clean --release $packages
xargs rm -f < "$created"
rm -f "$created"
