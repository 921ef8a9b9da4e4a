#!/bin/bash
# Pipelined HTTP/1.1 and HTTP/2 client throughput: loadgen vs h2load (nghttp2-client) vs oha, each
# client pinned to one core, each server to another, 1000 connections, interleaved rounds.
#
#   apt-get install -y nginx-light nghttp2-client        # h2load and nginx
#   cargo build --release -p loadgen -p tcpserver-responder
#   loadgen/benches/compare_protocols.sh target/release 5 3
#
# Arguments: BIN_DIR (with loadgen and responder) [SECONDS=5] [ROUNDS=3].
# Env: SERVER_CPU (0), CLIENT_CPU (1), CONNS (1000), DEPTH (16, pipelining), STREAMS (10, HTTP/2),
# OHA (default: oha on PATH, e.g. OHA=/work/oha/bin/oha; skipped if missing), ONLY (pipeline|h2:
# run one part), TIMEOUT (loadgen's -t, 30s: h2load and oha never time a request out, and a
# loaded server answers 10000 streams in more than loadgen's default 2 s).
# Prints one line per run (server, protocol, client, req/s, client CPU µs per completed request),
# then the medians over the rounds and loadgen's median req/s over each other client's.
set -u
BIN=$1; D=${2:-5}; ROUNDS=${3:-3}
SCPU=${SERVER_CPU:-0}; CCPU=${CLIENT_CPU:-1}; C=${CONNS:-1000}
DEPTH=${DEPTH:-16}; STREAMS=${STREAMS:-10}; OHA=${OHA:-$(command -v oha || true)}; ONLY=${ONLY:-}
TIMEOUT=${TIMEOUT:-30s}
WORK=$(mktemp -d); OUT=$WORK/out; LINES=$WORK/lines; PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
ulimit -n 65536 2>/dev/null

wait_port() { for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

# Servers, all on SERVER_CPU with one thread/worker.
taskset -c "$SCPU" "$BIN/responder" --listen 127.0.0.1:19100 --threads 1 >/dev/null 2>&1 & PIDS+=($!)
taskset -c "$SCPU" "$BIN/loadgen" serve hyper --listen 127.0.0.1:19103 --threads 1 --tls >/dev/null 2>&1 & PIDS+=($!)
taskset -c "$SCPU" "$BIN/loadgen" serve hyper --listen 127.0.0.1:19104 --threads 1 >/dev/null 2>&1 & PIDS+=($!)
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
  mkdir -p "$WORK/tmp"
  cat > "$WORK/nginx.conf" <<CONF
daemon off; master_process on; worker_processes 1; pid $WORK/nginx.pid; error_log $WORK/error.log warn;
events { worker_connections 16384; }
http {
  access_log off; server_tokens off; default_type text/plain;
  keepalive_timeout 75s; keepalive_requests 100000000;
  http2_max_concurrent_streams 128;
  client_body_temp_path $WORK/tmp/b; proxy_temp_path $WORK/tmp/p; fastcgi_temp_path $WORK/tmp/f;
  uwsgi_temp_path $WORK/tmp/u; scgi_temp_path $WORK/tmp/s;
  server {
    listen 127.0.0.1:19101 ssl http2 backlog=4096; listen 127.0.0.1:19102 http2 backlog=4096;
    ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem; ssl_protocols TLSv1.3;
    location / { return 200 "Hello World!\r\n"; }
  }
}
CONF
  taskset -c "$SCPU" "$NGINX" -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log" & PIDS+=($!)
  wait_port 19101
fi
wait_port 19100; wait_port 19103; wait_port 19104

h2load_rps() { grep -oE 'finished in [0-9.]+m?s, [0-9.]+ req/s' "$OUT" | grep -oE '[0-9.]+ req/s' | grep -oE '[0-9.]+'; }
# The client's CPU time (task-clock from perf stat, else user+sys from /usr/bin/time), seconds.
if perf stat -x, -e task-clock -o "$WORK/stat" -- true 2>/dev/null; then
  timed() { perf stat -x, -e task-clock -o "$WORK/stat" -- "$@"; }
  cpu_seconds() { awk -F, '/task-clock/ {print $1/1000}' "$WORK/stat"; }
else
  timed() { /usr/bin/time -f "%U %S" -o "$WORK/stat" -- "$@"; }
  cpu_seconds() { awk '{print $1+$2}' "$WORK/stat"; }
fi
run() { # server protocol client cmd...
  local s=$1 p=$2 c=$3; shift 3
  timed taskset -c "$CCPU" "$@" >"$OUT" 2>&1
  local rps done
  case $c in
    loadgen) rps=$(jq '.result.rps.mean' "$OUT" 2>/dev/null); done=$(jq '.result.requests' "$OUT" 2>/dev/null) ;;
    h2load) rps=$(h2load_rps); done=$(grep -oE '[0-9]+ succeeded' "$OUT" | grep -oE '[0-9]+') ;;
    oha) rps=$(jq '.summary.requestsPerSec' "$OUT" 2>/dev/null); done=$(jq '[.statusCodeDistribution[]] | add' "$OUT" 2>/dev/null) ;;
  esac
  awk -v s="$s" -v p="$p" -v c="$c" -v r="${rps:-0}" -v n="${done:-0}" -v t="$(cpu_seconds)" \
    'BEGIN { printf "%-9s %-9s %-8s %10.0f req/s %7.2f us CPU/request\n", s, p, c, r, (n > 0 ? t * 1e6 / n : 0) }' \
    | tee -a "$LINES"
}

LG=("$BIN/loadgen" --threads 1 -c "$C" -d "${D}s" -t "$TIMEOUT" -k -p r -o json)
H2=(h2load -t 1 -c "$C" -D "$D")
OH=("$OHA" --no-tui --output-format json -c "$C" -z "${D}s" --insecure)
for round in $(seq "$ROUNDS"); do
  echo "# round $round"
  if [ "$ONLY" != h2 ]; then
    run responder "h1x$DEPTH" loadgen "${LG[@]}" --pipeline "$DEPTH" http://127.0.0.1:19100/
    run responder "h1x$DEPTH" h2load "${H2[@]}" --h1 -m "$DEPTH" http://127.0.0.1:19100/
  fi
  [ "$ONLY" = pipeline ] && continue
  for target in "nginx tls https://localhost:19101/" "nginx h2c http://127.0.0.1:19102/" \
                "hyper tls https://localhost:19103/" "hyper h2c http://127.0.0.1:19104/"; do
    set -- $target
    [ "$1" = nginx ] && [ -z "${NGINX:-}" ] && continue
    if [ "$2" = tls ]; then flag=--http2; else flag=--h2c; fi
    run "$1" "h2-$2" loadgen "${LG[@]}" "$flag" --streams "$STREAMS" "$3"
    run "$1" "h2-$2" h2load "${H2[@]}" -m "$STREAMS" "$3"
    if [ -n "$OHA" ]; then
      run "$1" "h2-$2" oha "${OH[@]}" --http2 -p "$STREAMS" "$3"
    fi
  done
done

echo "# medians of $ROUNDS rounds: req/s, client CPU us/request, loadgen's median req/s / the client's"
awk -v keys=3 -f "$(dirname "$0")/medians.awk" "$LINES"
