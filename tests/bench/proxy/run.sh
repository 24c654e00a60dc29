#!/usr/bin/env bash
#  ocf-proxyd against nginx and haproxy, in the same run, on the same machine, over loopback,
#  all in front of the same ocf-test-backend. One command: tests/bench/proxy/run.sh
#
#  Measured, for 1 then 2 workers each (nginx worker_processes, haproxy nbthread, proxyd
#  [proxyd] workers), on two paths:
#    local     proxy -> backend           proxyd: /v1/_service/llm/ping on the host that serves it
#    two-hop   proxy A -> proxy B -> backend   proxyd: /v1/service/llm/ping at a host without it
#  - throughput and latency with wrk at 50 connections (requests/s, p50, p99);
#  - latency at 1 connection, and what the proxy adds to the backend's own;
#  - CONCURRENT streams of server-sent events (100 and 1000): the delay each event takes to
#    reach the client (minus the same for the backend alone), and the proxy's peak RSS.
#  Every figure is the median of RUNS runs. Results: a Markdown report on stdout (and in
#  $OUT if set). Only 127.0.0.1 is used; everything started here is stopped at the end.
#
#  Settings (environment): BUILD (a Release build tree it configures and builds, default
#  ./build-bench), DURATION (wrk, 5s), RUNS (3),
#  WORKERS ("1 2"), BACKEND_THREADS (2), STREAMS ("100 1000"), TOKENS per stream (40),
#  TOKEN_DELAY_MS (50), PORT_BASE (28100), QUICK=1 (1 run of 2 s: a smoke test).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
BIN=$BUILD/bin
DURATION=${DURATION:-5s}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-"1 2"}
BACKEND_THREADS=${BACKEND_THREADS:-2}
STREAMS=${STREAMS:-"100 1000"}
TOKENS=${TOKENS:-40}
TOKEN_DELAY_MS=${TOKEN_DELAY_MS:-50}
PORT_BASE=${PORT_BASE:-28100}
if [ "${QUICK:-0}" = 1 ]; then RUNS=1; DURATION=2s; fi

for tool in wrk nginx haproxy cc curl; do
    command -v $tool > /dev/null || { echo "run.sh: $tool is needed" >&2; exit 1; }
done
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DOCF_TESTS=ON -DOCF_BENCH=ON > /dev/null
cmake --build "$BUILD" -j"$(nproc)" --target ocf-tabled ocf-proxyd ocf-test-backend ocfctl > /dev/null
ulimit -n 20000 2> /dev/null || true

WORK=$(mktemp -d /tmp/ocf-bench-XXXXXX)
PIDS=()
cleanup () {
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

BACKEND_PORT=$PORT_BASE
NGINX_B=$((PORT_BASE + 1)) NGINX_A=$((PORT_BASE + 2))
HAPROXY_B=$((PORT_BASE + 3)) HAPROXY_A=$((PORT_BASE + 4))
PROXYD_B=$((PORT_BASE + 5)) PROXYD_A=$((PORT_BASE + 6))
for port in $(seq $PORT_BASE $((PORT_BASE + 6))); do
    if (exec 3<> /dev/tcp/127.0.0.1/$port) 2> /dev/null; then echo "run.sh: port $port is in use (set PORT_BASE)" >&2; exit 1; fi
done
cc -O2 -I "$ROOT/common" -o "$WORK/sse_bench" "$HERE/sse_bench.c"

log () { echo "[$(date +%T)] $*" >&2; }

wait_http () {                   #  url [header]
    for _ in $(seq 200); do
        if curl -sf -o /dev/null ${2:+-H "$2"} "$1"; then return 0; fi
        sleep 0.05
    done
    echo "run.sh: $1 does not answer" >&2; exit 1
}

stop () {                        #  pid...: stops and forgets them
    for pid in "$@"; do
        kill "$pid" 2> /dev/null || true
        wait "$pid" 2> /dev/null || true
        PIDS=("${PIDS[@]/$pid}")
    done
}

#  --------------------------------------------------------------------------
#  What is measured

"$BIN/ocf-test-backend" --listen 127.0.0.1:$BACKEND_PORT --threads "$BACKEND_THREADS" --model bench \
    --tokens "$TOKENS" --token-delay-ms "$TOKEN_DELAY_MS" 2> "$WORK/backend.log" &
PIDS+=($!)
wait_http http://127.0.0.1:$BACKEND_PORT/ping

NGINX_PIDS=()
start_nginx () {                 #  name port upstream_port workers
    local dir=$WORK/nginx-$1
    mkdir -p "$dir"
    cat > "$dir/nginx.conf" <<EOF
worker_processes $4;
worker_rlimit_nofile 20000;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    upstream backend { server 127.0.0.1:$3; keepalive 256; }
    server {
        listen 127.0.0.1:$2 reuseport;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
        }
    }
}
EOF
    nginx -p "$dir" -c "$dir/nginx.conf" &
    PIDS+=($!) NGINX_PIDS+=($!)
    wait_http http://127.0.0.1:$2/ping
}

HAPROXY_PIDS=()
start_haproxy () {               #  name port upstream_port threads
    local dir=$WORK/haproxy-$1
    mkdir -p "$dir"
    cat > "$dir/haproxy.cfg" <<EOF
global
    nbthread $4
    maxconn 9000
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    http-reuse always
    option http-no-delay
frontend in
    bind 127.0.0.1:$2
    default_backend out
backend out
    server backend 127.0.0.1:$3 maxconn 9000
EOF
    haproxy -db -f "$dir/haproxy.cfg" &
    PIDS+=($!) HAPROXY_PIDS+=($!)
    wait_http http://127.0.0.1:$2/ping
}

PROXYD_PIDS=()
start_proxyd () {                #  name port workers [tabled already running]
    local dir=$WORK/proxyd-$1
    mkdir -p "$dir"
    cat > "$dir/ocf.conf" <<EOF
[node]
name = bench-$1
state_dir = $dir/state
run_dir = $dir/run
public_addr = 127.0.0.1
log_level = warning
[proxyd]
listen = 127.0.0.1:$2
workers = $3
EOF
    if [ ! -e "$dir/run/tabled.lock" ] || ! "$BIN/ocfctl" -r "$dir/run" -t 500 HELLO > /dev/null 2>&1; then
        "$BIN/ocf-tabled" -c "$dir/ocf.conf" 2>> "$dir/tabled.log" &
        PIDS+=($!)
        for _ in $(seq 100); do "$BIN/ocfctl" -r "$dir/run" -t 200 HELLO > /dev/null 2>&1 && break; sleep 0.05; done
    fi
    "$BIN/ocf-proxyd" -c "$dir/ocf.conf" 2>> "$dir/proxyd.log" &
    PIDS+=($!) PROXYD_PIDS+=($!)
    wait_http http://127.0.0.1:$2/v1/health
}

#  Host B serves the backend; host A learns B's row the way gossip would carry it.
start_proxyd_pair () {           #  workers
    start_proxyd b $PROXYD_B "$1"
    start_proxyd a $PROXYD_A "$1"
    "$BIN/ocfctl" -r "$WORK/proxyd-b/run" SERVICE.UP \
        "{\"service\": {\"name\": \"llm\", \"host\": \"127.0.0.1\", \"port\": $BACKEND_PORT, \"identity_group\": [\"model=bench\"]}}" > /dev/null
    local rows
    rows=$("$BIN/ocfctl" -r "$WORK/proxyd-b/run" LIST '{"limit": 10000}' | python3 -c 'import json,sys; print(json.dumps({"rows": json.load(sys.stdin)["rows"]}))')
    "$BIN/ocfctl" -r "$WORK/proxyd-a/run" MERGE "$rows" > /dev/null
    wait_http "http://127.0.0.1:$PROXYD_A/v1/service/llm/ping" "X-Ocf-Identity: model=bench"
    wait_http "http://127.0.0.1:$PROXYD_B/v1/_service/llm/ping"
}

#  --------------------------------------------------------------------------
#  Measuring

to_us () {                       #  "123.45us" | "1.20ms" | "2.00s" -> microseconds
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /ms$/) n *= 1000; else if (v ~ /us$/) n *= 1; else if (v ~ /s$/) n *= 1000000; printf "%.0f", n }'
}

median () { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

#  wrk_median connections url [header]: prints "rps p50_us p99_us", medians of RUNS runs.
wrk_median () {
    local rps=() p50=() p99=() threads=1
    [ "$1" -gt 1 ] && threads=$CURRENT_WORKERS
    for _ in $(seq "$RUNS"); do
        local out
        out=$(wrk -t"$threads" -c"$1" -d"$DURATION" --latency ${3:+-H "$3"} "$2")
        if echo "$out" | grep -q "Non-2xx"; then echo "run.sh: errors from $2:" >&2; echo "$out" >&2; exit 1; fi
        rps+=("$(echo "$out" | awk '/Requests\/sec/ { print $2 }')")
        p50+=("$(to_us "$(echo "$out" | awk '$1 == "50%" { print $2 }')")")
        p99+=("$(to_us "$(echo "$out" | awk '$1 == "99%" { print $2 }')")")
    done
    echo "$(printf '%s\n' "${rps[@]}" | median) $(printf '%s\n' "${p50[@]}" | median) $(printf '%s\n' "${p99[@]}" | median)"
}

rss_kb () { local total=0; for pid in "$@"; do total=$((total + $(awk '/VmRSS/ { print $2 }' /proc/$pid/status 2> /dev/null || echo 0))); done; echo $total; }
pids_of () { local list; list=$(pgrep -d, -P "$1" 2> /dev/null || true); echo "$1${list:+,$list}"; }

REPORT=$WORK/report.md
THROUGHPUT=() STREAMROWS=()
CURRENT_WORKERS=1

measure_http () {                #  label path port url_path [header]
    local url=http://127.0.0.1:$3$4
    log "wrk: $1 $2, $CURRENT_WORKERS worker(s)"
    read -r rps p50 p99 <<< "$(wrk_median 50 "$url" "${5:-}")"
    read -r _ one50 one99 <<< "$(wrk_median 1 "$url" "${5:-}")"
    THROUGHPUT+=("$1|$2|$CURRENT_WORKERS|$rps|$p50|$p99|$one50|$one99")
}

measure_streams () {             #  label path host port url_path pids [header]
    for count in $STREAMS; do
        log "streams: $1 $2, $count streams of $TOKENS events"
        local results=()
        for _ in $(seq "$RUNS"); do
            results+=("$("$WORK/sse_bench" "$3" "$4" "$5" "$count" '{"model": "bench", "stream": true}' "$6" ${7:+"$7"})")
        done
        local p50 p99 rss events
        p50=$(printf '%s\n' "${results[@]}" | sed 's/.*p50_us=\([0-9]*\).*/\1/' | median)
        p99=$(printf '%s\n' "${results[@]}" | sed 's/.*p99_us=\([0-9]*\).*/\1/' | median)
        rss=$(printf '%s\n' "${results[@]}" | sed 's/.*rss_max_kb=\([0-9]*\).*/\1/' | median)
        events=$(printf '%s\n' "${results[@]}" | sed 's/.*events=\([0-9]*\).*/\1/' | median)
        STREAMROWS+=("$1|$2|$count|$events|$p50|$p99|$rss")
    done
}

log "backend alone"
CURRENT_WORKERS=1
measure_http backend direct $BACKEND_PORT /ping
measure_streams backend direct 127.0.0.1 $BACKEND_PORT /v1/chat/completions ""

for workers in $WORKERS; do
    CURRENT_WORKERS=$workers
    start_nginx b $NGINX_B $BACKEND_PORT "$workers"
    start_nginx a $NGINX_A $NGINX_B "$workers"
    measure_http nginx local $NGINX_B /ping
    measure_http nginx two-hop $NGINX_A /ping
    nginx_b=$(pids_of "${NGINX_PIDS[0]}")
    if [ "$workers" = 1 ]; then
        measure_streams nginx local 127.0.0.1 $NGINX_B /v1/chat/completions "$nginx_b"
        measure_streams nginx two-hop 127.0.0.1 $NGINX_A /v1/chat/completions "$(pids_of "${NGINX_PIDS[1]}"),$nginx_b"
    fi
    NGINX_IDLE[$workers]=$(rss_kb ${nginx_b//,/ })
    stop "${NGINX_PIDS[@]}"; NGINX_PIDS=()

    start_haproxy b $HAPROXY_B $BACKEND_PORT "$workers"
    start_haproxy a $HAPROXY_A $HAPROXY_B "$workers"
    measure_http haproxy local $HAPROXY_B /ping
    measure_http haproxy two-hop $HAPROXY_A /ping
    if [ "$workers" = 1 ]; then
        measure_streams haproxy local 127.0.0.1 $HAPROXY_B /v1/chat/completions "${HAPROXY_PIDS[0]}"
        measure_streams haproxy two-hop 127.0.0.1 $HAPROXY_A /v1/chat/completions "${HAPROXY_PIDS[1]},${HAPROXY_PIDS[0]}"
    fi
    HAPROXY_IDLE[$workers]=$(rss_kb "${HAPROXY_PIDS[0]}")
    stop "${HAPROXY_PIDS[@]}"; HAPROXY_PIDS=()

    start_proxyd_pair "$workers"
    measure_http proxyd local $PROXYD_B /v1/_service/llm/ping
    measure_http proxyd local-routed $PROXYD_B /v1/service/llm/ping "X-Ocf-Identity: model=bench"
    measure_http proxyd two-hop $PROXYD_A /v1/service/llm/ping "X-Ocf-Identity: model=bench"
    if [ "$workers" = 1 ]; then
        measure_streams proxyd local 127.0.0.1 $PROXYD_B /v1/_service/llm/v1/chat/completions "${PROXYD_PIDS[0]}"
        measure_streams proxyd two-hop 127.0.0.1 $PROXYD_A /v1/chat/completions "${PROXYD_PIDS[1]},${PROXYD_PIDS[0]}"
    fi
    PROXYD_IDLE[$workers]=$(rss_kb "${PROXYD_PIDS[0]}")
    stop "${PROXYD_PIDS[@]}"; PROXYD_PIDS=()
done

#  --------------------------------------------------------------------------
#  Report

{
    echo "## ocf-proxyd vs nginx vs haproxy ($(date -u +%F), $(nproc) cores: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))"
    echo
    echo "Backend: ocf-test-backend, $BACKEND_THREADS threads. wrk, $DURATION per run, medians of $RUNS runs."
    echo "$(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v | head -1 | awk '{ print "haproxy " $3 }'), ocf-proxyd $("$BIN/ocf-proxyd" --version | awk '{ print $2 }')."
    echo
    echo "### Requests (GET /ping, 5-byte body)"
    echo
    echo "| proxy | path | workers | req/s at 50 conn | vs backend | p50 | p99 | p50 at 1 conn | p99 at 1 conn | added p50 / p99 at 1 conn |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    base_rps= base50= base99=
    for row in "${THROUGHPUT[@]}"; do
        IFS='|' read -r proxy path workers rps p50 p99 one50 one99 <<< "$row"
        if [ "$proxy" = backend ]; then base_rps=$rps base50=$one50 base99=$one99; fi
        ratio=$(awk -v a="$rps" -v b="$base_rps" 'BEGIN { printf "%.2f×", a / b }')
        added="$(printf '%+d µs / %+d µs' $((one50 - base50)) $((one99 - base99)))"
        [ "$proxy" = backend ] && added="—"
        echo "| $proxy | $path | $workers | $(printf '%.0f' "$rps") | $ratio | $p50 µs | $p99 µs | $one50 µs | $one99 µs | $added |"
    done
    echo
    echo "### Server-sent event streams ($TOKENS events each, one every $TOKEN_DELAY_MS ms; 1 worker)"
    echo
    echo "| proxy | path | streams | events | delay p50 | delay p99 | added p50 | added p99 | peak RSS |"
    echo "|---|---|---|---|---|---|---|---|---|"
    declare -A direct50 direct99
    for row in "${STREAMROWS[@]}"; do
        IFS='|' read -r proxy path count events p50 p99 rss <<< "$row"
        if [ "$proxy" = backend ]; then direct50[$count]=$p50 direct99[$count]=$p99; fi
        added50=$(printf '%+d µs' $((p50 - direct50[$count]))) added99=$(printf '%+d µs' $((p99 - direct99[$count])))
        memory="$((rss / 1024)) MB"
        [ "$proxy" = backend ] && { added50="—"; added99="—"; memory="—"; }
        echo "| $proxy | $path | $count | $events | $p50 µs | $p99 µs | $added50 | $added99 | $memory |"
    done
    echo
    echo "RSS after the request runs (resident set of all the proxy's processes, one of the two hosts):"
    for workers in $WORKERS; do
        echo "$workers worker(s): nginx $((${NGINX_IDLE[$workers]} / 1024)) MB, haproxy $((${HAPROXY_IDLE[$workers]} / 1024)) MB, ocf-proxyd $((${PROXYD_IDLE[$workers]} / 1024)) MB."
    done
    echo "Two-hop streams count the RSS of both proxies (A and B)."
} > "$REPORT"
cat "$REPORT"
[ -n "${OUT:-}" ] && cp "$REPORT" "$OUT"
exit 0
