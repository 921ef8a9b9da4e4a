# syntax=docker/dockerfile:1
# The whole tcpserver benchmark, reproducible in a container.
#   docker build -t tcpserver-bench .
#   docker run --rm --network host --ulimit nofile=65536:65536 \
#       -v "$PWD/results:/bench/results" tcpserver-bench                 # all scenarios
#   docker run --rm --network host --ulimit nofile=65536:65536 \
#       tcpserver-bench --scenario 3 --duration 5s                       # one scenario

# ---- build stage: pinned official Rust image, release build, --locked ----
FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src

# Dependency-caching layer: the manifests, the lock file and empty targets. This layer (and the
# compiled dependencies in it) is reused until a manifest or Cargo.lock changes.
COPY Cargo.toml Cargo.lock ./
COPY server/Cargo.toml server/Cargo.toml
COPY server/responder/Cargo.toml server/responder/Cargo.toml
COPY loadgen/Cargo.toml loadgen/Cargo.toml
COPY scripts/docker-stub-targets.sh scripts/docker-stub-targets.sh
RUN sh scripts/docker-stub-targets.sh server/Cargo.toml server/responder/Cargo.toml loadgen/Cargo.toml \
    && cargo build --release --locked -p loadgen -p tcpserver-responder --bins \
    && rm -rf server/src server/responder/src loadgen/src

# The sources. .git (HEAD and refs only, see .dockerignore) lets the build record the commit.
COPY . .
RUN touch server/src/lib.rs server/responder/src/lib.rs loadgen/src/lib.rs \
    && cargo build --release --locked -p loadgen -p tcpserver-responder --bins \
    && mkdir -p /out \
    && cp target/release/loadgen target/release/responder /out/

# ---- runtime stage: pinned slim Debian, binaries + scenarios + font, non-root ----
FROM debian:12.11-slim AS runtime
# nginx is an optional contender for the static scenarios (Debian's package, as on the dev machines).
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx-light=1.22.1-9+deb12u* \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 --user-group bench
WORKDIR /bench
COPY --from=build /out/loadgen /out/responder /usr/local/bin/
COPY scenarios/ /bench/scenarios/
COPY assets/fonts/ /bench/assets/fonts/
RUN mkdir -p /bench/results && chown -R bench:bench /bench
USER 10001:10001
VOLUME ["/bench/results"]
ENTRYPOINT ["loadgen"]
CMD ["--scenario", "all"]
