# The whole tcpserver benchmark, reproducible in a container (README "Docker"):
#   docker build -t tcpserver-bench .
#   mkdir -p results && docker run --rm --network host --ulimit nofile=65536:65536 \
#       --user "$(id -u):$(id -g)" -v "$PWD/results:/bench/results" tcpserver-bench   # all scenarios
#   docker run --rm --network host --ulimit nofile=65536:65536 \
#       tcpserver-bench --scenario 3 --duration 5s                                    # one scenario
# The base images are build arguments with pinned defaults; scripts/docker-test.sh (CI) builds
# from local stand-ins with `--build-arg RUST_IMAGE=... --build-arg RUNTIME_IMAGE=...`.
ARG RUST_IMAGE=rust:1.95.0-slim-bookworm
ARG RUNTIME_IMAGE=debian:12.11-slim

# ---- build stage: Rust toolchain, release build, --locked ----
FROM ${RUST_IMAGE} AS build
WORKDIR /src

# Dependency layer: the manifests and the lock file only. The script compiles the dependencies
# against empty targets, then removes the workspace's own artifacts and the empty files, so the
# layer holds only compiled dependencies and is reused until a manifest or Cargo.lock changes.
COPY Cargo.toml Cargo.lock ./
COPY server/Cargo.toml server/Cargo.toml
COPY server/responder/Cargo.toml server/responder/Cargo.toml
COPY loadgen/Cargo.toml loadgen/Cargo.toml
COPY scripts/docker-build-deps.sh scripts/docker-build-deps.sh
RUN sh scripts/docker-build-deps.sh server/Cargo.toml server/responder/Cargo.toml loadgen/Cargo.toml \
    -- -p loadgen -p tcpserver-responder --bins

# The sources. .git (HEAD and refs only, see .dockerignore) lets loadgen's build script record the
# commit; where the context has no .git directory (a git worktree, a tarball), pass
# `--build-arg GIT_COMMIT=$(git rev-parse HEAD)`.
COPY . .
ARG GIT_COMMIT=""
RUN cargo build --release --locked -p loadgen -p tcpserver-responder --bins \
    && mkdir -p /out \
    && cp target/release/loadgen target/release/responder /out/

# ---- runtime stage: slim Debian, binaries + scenarios + nginx, any non-root uid ----
FROM ${RUNTIME_IMAGE} AS runtime
# nginx is an optional contender for the static scenarios (Debian's package, as on the dev machines).
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx-light=1.22.1-9+deb12u* \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /bench
COPY --from=build /out/loadgen /out/responder /usr/local/bin/
COPY scenarios/ /bench/scenarios/
# The chart font is compiled into loadgen (include_bytes!); its licence travels with the binary.
COPY assets/fonts/DejaVuSans-LICENSE.txt /usr/share/doc/loadgen/
# Runs as uid 10001 by default, and as any other uid (`docker run --user "$(id -u):$(id -g)"`, so
# that files in a mounted results folder belong to the user): results/ is writable by everyone
# (like /tmp) for an unmounted run, HOME is /tmp, and the runner's and nginx's work files go to
# /tmp (nginx.sh puts its pid, logs and temp paths in the run's work folder).
RUN useradd --no-create-home --home-dir /tmp --uid 10001 --user-group bench \
    && mkdir -p /bench/results \
    && chmod 1777 /bench/results
ENV HOME=/tmp
USER 10001:10001
VOLUME ["/bench/results"]
ENTRYPOINT ["loadgen"]
CMD ["--scenario", "all"]
