#!/bin/bash
# Client efficiency: loadgen vs wrk -t1 vs oha, each pinned to one core, against a fast server on
# another core, 1000 connections, keep-alive on and off. Prints req/s and client CPU µs/request
# (task-clock from perf stat, or user+sys from /usr/bin/time when perf is unavailable).
#
#   gcc -O2 -o /tmp/floor ../shared/bench/floor.c
#   taskset -c 0 /tmp/floor 19000 &  taskset -c 0 /tmp/floor 19001 close &
#   cargo build --release -p loadgen
#   loadgen/benches/compare_clients.sh target/release/loadgen 19000 19001 5 3
#
# Arguments: LOADGEN PORT_KEEPALIVE PORT_CLOSE [SECONDS=5] [ROUNDS=3]. Env: CLIENT_CPU (default 1),
# CONNS (default 1000), MODES (default "keep-alive close"), OHA (default: oha on PATH, e.g.
# OHA=/work/oha/bin/oha; skipped if missing).
# Ends with the medians over the rounds and loadgen's median req/s over each other client's.
set -u
L=$1; KA=$2; CL=$3; D=${4:-5}; ROUNDS=${5:-3}
CPU=${CLIENT_CPU:-1}; C=${CONNS:-1000}; OHA=${OHA:-$(command -v oha || true)}
OUT=$(mktemp); STAT=$(mktemp); LINES=$(mktemp); trap 'rm -f "$OUT" "$STAT" "$LINES"' EXIT

measure() { # name mode cmd...
  local name=$1 mode=$2; shift 2
  local cpu reqs
  if perf stat -x, -e task-clock -o "$STAT" -- true 2>/dev/null; then
    perf stat -x, -e task-clock -o "$STAT" -- "$@" >"$OUT" 2>&1
    cpu=$(awk -F, '/task-clock/ {print $1/1000}' "$STAT")          # seconds
  else
    /usr/bin/time -f "%U %S" -o "$STAT" -- "$@" >"$OUT" 2>&1
    cpu=$(awk '{print $1+$2}' "$STAT")
  fi
  case $name in
    wrk) reqs=$(grep -oE '^ *[0-9]+ requests in' "$OUT" | grep -oE '[0-9]+') ;;
    oha) reqs=$(jq '[.statusCodeDistribution[]] | add' "$OUT") ;;
    loadgen) reqs=$(jq '.result.requests' "$OUT") ;;
  esac
  awk -v n="$name" -v m="$mode" -v r="${reqs:-0}" -v c="$cpu" -v d="$D" \
    'BEGIN { printf "%-10s %-8s %10.0f req/s  %7.2f us CPU/request\n", m, n, r/d, (r>0 ? c*1e6/r : 0) }' \
    | tee -a "$LINES"
}

for round in $(seq "$ROUNDS"); do
  echo "# round $round"
  for mode in ${MODES:-keep-alive close}; do
    if [ "$mode" = keep-alive ]; then
      U=http://127.0.0.1:$KA/; WRK=(); LG=(); OH=()
    else
      U=http://127.0.0.1:$CL/; WRK=(-H "Connection: close"); LG=(-a); OH=(--disable-keepalive)
    fi
    measure wrk "$mode" taskset -c "$CPU" wrk -t1 -c"$C" -d"${D}s" "${WRK[@]}" "$U"
    measure loadgen "$mode" taskset -c "$CPU" "$L" --threads 1 -c "$C" -d "${D}s" "${LG[@]}" -p r -o json "$U"
    if [ -n "$OHA" ]; then
      measure oha "$mode" taskset -c "$CPU" "$OHA" --no-tui --output-format json -c "$C" -z "${D}s" "${OH[@]}" "$U"
    fi
  done
done

echo "# medians of $ROUNDS rounds: req/s, client CPU us/request, loadgen's median req/s / the client's"
awk -v keys=2 -f "$(dirname "$0")/medians.awk" "$LINES"
