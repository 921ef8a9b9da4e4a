#!/usr/bin/env bash
# A benchmark.sh-style sweep, like the Go seed project's: for each scenario (responder flags) ×
# connection count × duration, start the responder pinned to one CPU, load it from another with
# bombardier's command line, and print one CSV line with the mean req/s (the seed's jq filter:
# 0 when any response was not 1xx-5xx).
#
# The load generator is picked by name, and gets the seed's line unchanged:
#   LOADGEN=loadgen    scripts/benchmark.sh     # default: this repository's loadgen
#   LOADGEN=bombardier scripts/benchmark.sh     # bombardier 1.2.5, if installed
#
# Knobs (environment): CONNECTIONS="125 1000", DURATIONS="10", SCENARIOS (semicolon-separated
# responder flag sets), SERVER_CPU=0, CLIENT_CPU=1, PORT=8080, RESPONDER, LOADGEN.
# Needs: jq, taskset; the responder binary (cargo build --release -p tcpserver-responder).
set -euo pipefail
cd "$(dirname "$0")/.."

LOADGEN=${LOADGEN:-loadgen}
CONNECTIONS=${CONNECTIONS:-"125 1000"}
DURATIONS=${DURATIONS:-"10"}
SCENARIOS=${SCENARIOS:-"--keep-alive on --payload 1024;--keep-alive off --payload 1024;--keep-alive on --payload 1024 --aes128"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-8080}
RESPONDER=${RESPONDER:-target/release/responder}

case "$LOADGEN" in
    loadgen) LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen} ;;
    bombardier) LOADGEN_BIN=${LOADGEN_BIN:-bombardier} ;;
    *) echo "LOADGEN must be loadgen or bombardier, not '$LOADGEN'" >&2; exit 2 ;;
esac
for tool in jq taskset "$LOADGEN_BIN" "$RESPONDER"; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
        echo "missing: $tool (build with: cargo build --release -p loadgen -p tcpserver-responder)" >&2
        exit 2
    fi
done

url="http://127.0.0.1:$PORT/"
server_pid=
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}
trap stop_server EXIT

# Starts the responder with the given flags and waits for its "listening on" line.
start_server() {
    local log
    log=$(mktemp)
    # shellcheck disable=SC2086 # the scenario's flags are words on purpose
    taskset -c "$SERVER_CPU" "$RESPONDER" --listen "127.0.0.1:$PORT" --threads 1 $1 >"$log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        if grep -q "listening on" "$log"; then
            rm -f "$log"
            return 0
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            cat "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "responder did not start" >&2
    return 1
}

echo "tool,scenario,connections,duration_s,rps_mean"
IFS=';' read -r -a scenarios <<<"$SCENARIOS"
for scenario in "${scenarios[@]}"; do
    start_server "$scenario"
    for conns in $CONNECTIONS; do
        for duration in $DURATIONS; do
            # The seed's line, verbatim.
            rps=$(taskset -c "$CLIENT_CPU" "$LOADGEN_BIN" -c "$conns" -d "${duration}s" -pr -oj --fasthttp -k "$url" |
                jq '.|select(.result.others==0) .result.rps.mean//0')
            echo "$LOADGEN,\"$scenario\",$conns,$duration,${rps:-0}"
        done
    done
    stop_server
done
