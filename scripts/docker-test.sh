#!/usr/bin/env bash
# The Docker image, tested with a real Docker engine (called by .ci/run; needs root).
#
#   bash scripts/docker-test.sh
#
# 1. Installs Debian's docker.io and debootstrap if missing, and starts its own dockerd in the
#    background (own socket, data root and pid file under $TCPSERVER_DOCKER_STATE, default
#    /var/lib/tcpserver-docker; no iptables, no bridge, so it works on a VM without systemd;
#    overlay2, else vfs). It is stopped by its pid when the script exits.
# 2. Docker Hub cannot be reached from these machines, so the two base images are LOCAL STAND-INS,
#    built once and cached by tag: Debian bookworm from `debootstrap --variant=minbase` (for
#    debian:12.11-slim) and that plus gcc, libc6-dev, ca-certificates, this machine's Rust toolchain
#    in the official image's layout and this machine's CA bundle (for rust:1.95.0-slim-bookworm).
# 3. Builds the Dockerfile with them (`docker build --network host`, BuildKit) and runs the README's
#    commands: `--scenario 2`, `--scenario 1` with nginx as an unnamed uid under --cpuset-cpus, and
#    `--scenario all` into a results folder mounted from the host and owned by a uid that is not
#    the image's, checking exit codes, the JSON, the PNG charts, README.md and their owner.
# Fails (non-zero, with the reason) on any break, including when no engine can start.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
state=${TCPSERVER_DOCKER_STATE:-/var/lib/tcpserver-docker}
image=tcpserver-bench:test
test_uid=4242 # owns the mounted results folder; neither root nor the image's 10001

say() { echo "docker-test: $*"; }
fail() {
    echo "docker-test: FAILED: $*" >&2
    exit 1
}
elapsed() { echo "$(($(date +%s) - $1))s"; }

say "NOTE: the base images are local stand-ins (debootstrap'd bookworm and this machine's Rust" \
    "toolchain), not the pinned Docker Hub images, which these machines cannot pull"

[ "$(id -u)" = 0 ] || fail "needs root (to install packages and start dockerd)"

# ---- packages ----
missing=()
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || fail "apt-get update failed"
    apt-get install -y -q "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]} failed"
fi
command -v python3 >/dev/null 2>&1 || fail "python3 is needed to check the result JSON"

# Debian's client, the same version as its daemon (another `docker` earlier in PATH may be a
# newer client that wants buildx for `docker build`).
docker() { /usr/bin/docker "$@"; }
export DOCKER_HOST="unix://$state/docker.sock"
mkdir -p "$state"
exec 9>"$state/lock"
flock -w 1800 9 || fail "another docker-test holds $state/lock"

# ---- engine ----
dockerd_pid=""
stop_engine() {
    [ -n "$dockerd_pid" ] || return 0
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 60); do
        kill -0 "$dockerd_pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -KILL "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
    dockerd_pid=""
}
trap stop_engine EXIT

# start_engine DRIVER: starts dockerd and waits (bounded) until `docker info` answers.
start_engine() {
    local driver=$1 log="$state/dockerd-$1.log"
    if [ -s "$state/dockerd.pid" ] && kill -0 "$(cat "$state/dockerd.pid")" 2>/dev/null; then
        fail "a dockerd (pid $(cat "$state/dockerd.pid")) already uses $state; stop it first"
    fi
    rm -f "$state/dockerd.pid"
    /usr/sbin/dockerd --data-root "$state/data" --exec-root "$state/exec" \
        --pidfile "$state/dockerd.pid" -H "$DOCKER_HOST" \
        --iptables=false --ip6tables=false --bridge=none --storage-driver="$driver" \
        >"$log" 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 120); do
        docker info >/dev/null 2>&1 && return 0
        kill -0 "$dockerd_pid" 2>/dev/null || break
        sleep 0.5
    done
    say "dockerd with $driver did not come up; its last lines:"
    tail -n 5 "$log" | sed 's/^/    /'
    stop_engine
    return 1
}
t=$(date +%s)
if start_engine overlay2; then
    driver=overlay2
elif start_engine vfs; then
    driver=vfs
else
    fail "no Docker engine could start on this machine (dockerd logs: $state/dockerd-*.log)"
fi
say "engine: dockerd $(docker version -f '{{.Server.Version}}'), storage $driver, pid $dockerd_pid," \
    "up in $(elapsed "$t")"

# Proxy settings, if any, for the builds (Docker's predefined build arguments).
proxy_args=()
for v in http_proxy https_proxy no_proxy all_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY ALL_PROXY; do
    [ -n "${!v:-}" ] && proxy_args+=(--build-arg "$v")
done

# ---- stand-in base images ----
# The Debian archive apt is configured with on this machine (it is the one reachable here).
mirror=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list \
    /etc/apt/sources.list.d/ 2>/dev/null | awk '{print $2; exit}' || true)
mirror=${DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}
mirror=${mirror%/}
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -r "$ca_bundle" ] || fail "no CA bundle at $ca_bundle"
rust_version=$(rustc -V | awk '{print $2}')
rust_host=$(rustc -vV | sed -n 's/^host: //p')
ca_sum=$(sha256sum "$ca_bundle" | cut -c1-12)
runtime_base=tcpserver-standin/debian:bookworm-minbase
# The tag names what the stand-in is made of; a change to the recipe below bumps "r2".
rust_base=tcpserver-standin/rust:$rust_version-bookworm-r2-ca$ca_sum

if docker image inspect "$runtime_base" >/dev/null 2>&1; then
    say "stand-in $runtime_base: cached"
else
    t=$(date +%s)
    say "stand-in $runtime_base: debootstrap --variant=minbase bookworm from $mirror"
    rootfs="$state/rootfs"
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$state/debootstrap.log" 2>&1 ||
        { tail -n 20 "$state/debootstrap.log"; fail "debootstrap failed (log: $state/debootstrap.log)"; }
    # The sources of the official image: the release, its updates and the security archive.
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s-security bookworm-security main\n' \
        "$mirror" "$mirror" "$mirror" >"$rootfs/etc/apt/sources.list"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - "$runtime_base" >/dev/null
    rm -rf "$rootfs"
    say "stand-in $runtime_base: made in $(elapsed "$t")"
fi

if docker image inspect "$rust_base" >/dev/null 2>&1; then
    say "stand-in $rust_base: cached"
else
    t=$(date +%s)
    toolchain=$rust_version-$rust_host
    say "stand-in $rust_base: $runtime_base + gcc, libc6-dev, ca-certificates," \
        "this machine's toolchain ($(rustc --print sysroot), as $toolchain) and CA bundle"
    ctx="$state/rust-context"
    rm -rf "$ctx"
    mkdir -p "$ctx/toolchain" "$ctx/cargo-bin"
    tar -C "$(rustc --print sysroot)" --exclude=./share -cf - . | tar -C "$ctx/toolchain" -xf -
    cp "$ca_bundle" "$ctx/ca-certificates.crt"
    # As in the official image: rustup and its proxies in $CARGO_HOME/bin (here symbolic links,
    # as rustup makes them on this machine), or the toolchain's binaries where rustup is missing.
    if command -v rustup >/dev/null 2>&1; then
        cp "$(command -v rustup)" "$ctx/cargo-bin/rustup"
        for p in cargo cargo-clippy cargo-fmt clippy-driver rustc rustdoc rustfmt; do
            ln -s rustup "$ctx/cargo-bin/$p"
        done
    else
        for p in "$ctx"/toolchain/bin/*; do
            ln -s "/usr/local/rustup/toolchains/$toolchain/bin/${p##*/}" "$ctx/cargo-bin/"
        done
    fi
    printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\n' "$toolchain" \
        >"$ctx/settings.toml"
    cat >"$ctx/Dockerfile" <<EOF
FROM $runtime_base
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \\
    && rm -rf /var/lib/apt/lists/*
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    RUST_VERSION=$rust_version
COPY toolchain/ /usr/local/rustup/toolchains/$toolchain/
COPY settings.toml /usr/local/rustup/settings.toml
COPY cargo-bin/ /usr/local/cargo/bin/
RUN cargo --version && rustc --version
LABEL org.tcpserver.standin="stand-in for rust:$rust_version-slim-bookworm, not the official image"
EOF
    DOCKER_BUILDKIT=1 docker build --network host --progress plain "${proxy_args[@]}" \
        -t "$rust_base" "$ctx" >"$state/rust-standin.log" 2>&1 ||
        { tail -n 30 "$state/rust-standin.log"; fail "building $rust_base failed (log: $state/rust-standin.log)"; }
    rm -rf "$ctx"
    # Older stand-ins (another toolchain, CA bundle or recipe) only take space.
    docker images --format '{{.Repository}}:{{.Tag}}' tcpserver-standin/rust | grep -vxF "$rust_base" |
        xargs -r /usr/bin/docker rmi >/dev/null 2>&1 || true
    say "stand-in $rust_base: made in $(elapsed "$t")"
fi

# ---- the image, from the Dockerfile ----
commit=$(git rev-parse HEAD)
build_args=(--build-arg "RUST_IMAGE=$rust_base" --build-arg "RUNTIME_IMAGE=$runtime_base")
# A git worktree's .git is a file: the context then has no refs to read the commit from.
[ -d .git ] || build_args+=(--build-arg "GIT_COMMIT=$commit")
say "docker build --network host ${build_args[*]} -t $image ."
t=$(date +%s)
# The full log goes to a file; the steps (and whether each was cached) to the output.
set +e
DOCKER_BUILDKIT=1 docker build --network host --progress plain "${build_args[@]}" \
    "${proxy_args[@]}" -t "$image" . 2>&1 | tee "$state/build.log" |
    grep --line-buffered -E '^#[0-9]+ (\[|CACHED|DONE|ERROR)'
build_rc=${PIPESTATUS[0]}
set -e
[ "$build_rc" = 0 ] ||
    { tail -n 40 "$state/build.log"; fail "docker build failed with $build_rc (log: $state/build.log)"; }
build_time=$(elapsed "$t")
size=$(docker image inspect -f '{{.Size}}' "$image")
say "built $image in $build_time, $((size / 1000000)) MB (on the stand-in base)"

# ---- the README's commands ----
work=$(mktemp -d)
cleanup() {
    docker rm -f -v tcpserver-bench-test-b >/dev/null 2>&1 || true
    rm -rf "$work"
    stop_engine
}
trap cleanup EXIT
# The README's --ulimit nofile=65536:65536, or this shell's hard limit where it is lower: a
# sandbox without CAP_SYS_RESOURCE (as on the dev VMs, 20000) cannot raise it, and runc fails with
# "error setting rlimits". The runner needs about 1,300 descriptors.
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] || [ "$nofile" -ge 65536 ] && nofile=65536
[ "$nofile" = 65536 ] || say "hard open-files limit here is $nofile: using --ulimit nofile=$nofile:$nofile"
run_args=(--network host --ulimit "nofile=$nofile:$nofile")

# run NAME DOCKER_RUN_ARGS...: runs, keeps the output and shows its summary lines (all of its end
# on a failure), fails on a non-zero exit.
run() {
    local name=$1 t rc=0
    shift
    say "docker run $*"
    t=$(date +%s)
    docker run "$@" >"$work/$name.log" 2>&1 || rc=$?
    grep -E '^(machine|placement|results|server threads):|^(==|--) |^   (req/s|skip)' "$work/$name.log" || true
    [ "$rc" = 0 ] || { tail -n 40 "$work/$name.log"; fail "$name: docker run exited with $rc"; }
    say "$name: exit 0 in $(elapsed "$t")"
}

# check_results DIR RUNDIR SCENARIO...: the JSON of each scenario, charts, README.md; the commit
# and toolchain recorded.
check_results() {
    local dir=$1 rundir=$2
    shift 2
    for s in "$@"; do
        compgen -G "$rundir/$s-*.json" >/dev/null || fail "no JSON result for scenario $s in $rundir"
        compgen -G "$rundir/scenario-$s-*.png" >/dev/null || fail "no chart for scenario $s in $rundir"
    done
    python3 - "$commit" "$rundir"/*.json <<'EOF' || fail "bad JSON results in $rundir"
import json, sys
commit, files = sys.argv[1], sys.argv[2:]
for f in files:
    m = json.load(open(f))["machine"]
    assert m["gitCommit"] == commit, f"{f}: gitCommit {m['gitCommit']!r}, expected {commit}"
    assert m["rustc"].startswith("rustc "), f"{f}: rustc {m['rustc']!r}"
print(f"docker-test: {len(files)} JSON files parse; commit {commit[:12]} and {m['rustc']} recorded")
EOF
    for png in "$rundir"/*.png; do
        [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$png is not a PNG"
    done
    grep -q "$(basename "$rundir")" "$dir/README.md" || fail "$dir/README.md does not name the run"
}

# 1. One scenario, exactly as the README shows it (the image's own user, no volume).
run scenario-2 --rm "${run_args[@]}" "$image" --scenario 2 --duration 2s
grep -q '^results: ' "$work/scenario-2.log" || fail "scenario-2: no results line"

# 2. nginx as a contender, under a uid the image does not know (no passwd entry, HOME from the
#    image) and --cpuset-cpus; results stay in the image's volume and are copied out.
cpus=0
[ "$(nproc)" -ge 2 ] && cpus=0,1
run scenario-1-nginx --name tcpserver-bench-test-b "${run_args[@]}" --cpuset-cpus "$cpus" \
    --user "$test_uid:$test_uid" "$image" --scenario 1 --duration 2s --contender builtin --contender nginx
docker cp tcpserver-bench-test-b:/bench/results "$work/b" || fail "docker cp of the results failed"
docker rm -v tcpserver-bench-test-b >/dev/null
b_run=$(find "$work/b" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ -n "$b_run" ] || fail "scenario-1-nginx: no run folder"
check_results "$work/b" "$b_run" 1
for c in nginx tcpserver-per-core; do
    compgen -G "$b_run/1-$c-t*.json" >/dev/null || fail "scenario-1-nginx: no result for $c"
done

# 3. All scenarios into a results folder on the host owned by $test_uid, as the README's command
#    (`--user "$(id -u):$(id -g)"`) does for the user running it.
results="$work/results"
mkdir -p "$results"
chown "$test_uid:$test_uid" "$results"
run scenario-all --rm "${run_args[@]}" --user "$test_uid:$test_uid" -v "$results:/bench/results" \
    "$image" --scenario all --duration 1s --warmup 0s
mapfile -t runs < <(find "$results" -mindepth 1 -maxdepth 1 -type d)
[ "${#runs[@]}" = 1 ] || fail "scenario-all: expected one run folder in $results, found ${#runs[@]}"
ids=()
for f in scenarios/*.toml; do ids+=("$(basename "$f" .toml)"); done
check_results "$results" "${runs[0]}" "${ids[@]}"
not_owned=$(find "$results" ! -uid "$test_uid" | head -n 3)
[ -z "$not_owned" ] || fail "scenario-all: not owned by uid $test_uid: $not_owned"
unreadable=$(find "$results" -type f ! -perm -u=r | head -n 3)
[ -z "$unreadable" ] || fail "scenario-all: not readable by its owner: $unreadable"
say "scenario-all: $(find "$results" -type f | wc -l) files, all owned by uid $test_uid"

# Keep the build cache (the dependency layer) but not every old image and layer.
docker image prune -f >/dev/null 2>&1 || true
docker builder prune -f --keep-storage 5GB >/dev/null 2>&1 || true

say "PASSED in $(elapsed "$started") (build $build_time, image $((size / 1000000)) MB;" \
    "base images were local stand-ins)"
