#!/bin/sh
# Creates an empty source file for every build target the workspace manifests name, so that a
# Docker layer can compile the dependency graph alone (it stays cached until a manifest changes).
# Usage: scripts/docker-stub-targets.sh server/Cargo.toml loadgen/Cargo.toml
set -eu
for manifest in "$@"; do
    dir=$(dirname "$manifest")
    mkdir -p "$dir/src"
    [ -e "$dir/src/lib.rs" ] || : > "$dir/src/lib.rs"
    if grep -q '^build *= *"build.rs"' "$manifest"; then [ -e "$dir/build.rs" ] || echo 'fn main() {}' > "$dir/build.rs"; fi
    awk -v dir="$dir" '
        function flush() {
            if (kind != "") {
                if (path == "") {
                    if (kind == "bin") path = "src/bin/" name ".rs";
                    else if (kind == "bench") path = "benches/" name ".rs";
                    else if (kind == "test") path = "tests/" name ".rs";
                    else if (kind == "example") path = "examples/" name ".rs";
                }
                print dir "/" path;
            }
            kind = ""; name = ""; path = "";
        }
        /^\[\[(bin|bench|test|example)\]\]/ { flush(); kind = $0; gsub(/[\[\]]/, "", kind); next }
        /^\[/ { flush(); next }
        kind != "" && /^name *=/ { name = $0; sub(/^name *= *"/, "", name); sub(/".*/, "", name) }
        kind != "" && /^path *=/ { path = $0; sub(/^path *= *"/, "", path); sub(/".*/, "", path) }
        END { flush() }
    ' "$manifest" | while read -r target; do
        mkdir -p "$(dirname "$target")"
        [ -e "$target" ] || echo 'fn main() {}' > "$target"
    done
    [ -e "$dir/src/main.rs" ] || { grep -q '^\[\[bin\]\]' "$manifest" || echo 'fn main() {}' > "$dir/src/main.rs"; }
done
