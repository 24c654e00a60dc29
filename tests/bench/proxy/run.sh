#!/usr/bin/env bash
#  ocf-proxyd against nginx and haproxy, in the same run, on the same machine, over loopback,
#  all in front of the same ocf-test-backend. One command: tests/bench/proxy/run.sh
#
#  Measured, for 1 then 2 workers each (nginx worker_processes, haproxy nbthread, proxyd
#  [proxyd] workers), on two paths:
#    local     proxy -> backend           proxyd: /v1/_service/llm/ping on the host that serves it
#    two-hop   proxy A -> proxy B -> backend   proxyd: /v1/service/llm/ping at a host without it
#              (plain HTTP between the hosts: proxyd's fabric_listen = off)
#  and, with 1 worker each (TLS_WORKERS), the two-hop path with TLS 1.3 between A and B:
#    two-hop TLS   nginx A (proxy_pass https, upstream keepalive, proxy_ssl_session_reuse)
#                  -> nginx B (listen ssl); haproxy A (server ssl, http-reuse always) -> haproxy B
#                  (bind ssl crt); proxyd A -> proxyd B's fabric listener (mutual TLS, pooled,
#                  resumed). One Ed25519 certificate, made with openssl at the start, serves nginx
#                  and haproxy as server and as client (both sides show a certificate, as proxyd's
#                  do; proxyd makes its own from each host's Ed25519 node key). These rows are
#                  measured in rounds that alternate backend, nginx, haproxy and proxyd, so
#                  that a noisy machine weighs on all of them alike.
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
#  TOKEN_DELAY_MS (50), PORT_BASE (28100), QUICK=1 (1 run of 2 s: a smoke test),
#  ONLY=tls (only the backend and the TLS two-hop rows), ONLY=plain (no TLS rows), TLS_WORKERS (1).
#  Keep PORT_BASE below the ephemeral range (/proc/sys/net/ipv4/ip_local_port_range, 32768 on
#  Debian): the 1,000-stream clients take ports from it, and a proxy could not bind one taken.
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
TLS_WORKERS=${TLS_WORKERS:-1}
ONLY=${ONLY:-}
if [ "${QUICK:-0}" = 1 ]; then RUNS=1; DURATION=2s; fi

for tool in wrk nginx haproxy cc curl openssl ss; do
    command -v $tool > /dev/null || { echo "run.sh: $tool is needed" >&2; exit 1; }
done
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DOCF_TESTS=ON -DOCF_BENCH=ON > /dev/null
cmake --build "$BUILD" -j"$(nproc)" --target ocf-tabled ocf-proxyd ocf-test-backend ocfctl > /dev/null
ulimit -n 20000 2> /dev/null || true

source "$ROOT/tests/bench/lib.sh"
bench_work ocf-bench

BACKEND_PORT=$PORT_BASE
NGINX_B=$((PORT_BASE + 1)) NGINX_A=$((PORT_BASE + 2))
HAPROXY_B=$((PORT_BASE + 3)) HAPROXY_A=$((PORT_BASE + 4))
PROXYD_B=$((PORT_BASE + 5)) PROXYD_A=$((PORT_BASE + 6))
NGINX_TB=$((PORT_BASE + 7)) NGINX_TA=$((PORT_BASE + 8))
HAPROXY_TB=$((PORT_BASE + 9)) HAPROXY_TA=$((PORT_BASE + 10))
PROXYD_TB=$((PORT_BASE + 11)) PROXYD_TA=$((PORT_BASE + 12))
FABRIC_TB=$((PORT_BASE + 13)) FABRIC_TA=$((PORT_BASE + 14))
bench_ports_free $PORT_BASE $((PORT_BASE + 14))
cc -O2 -I "$ROOT/common" -o "$WORK/sse_bench" "$HERE/sse_bench.c"
cc -O2 -o "$WORK/rowcopy" "$HERE/rowcopy.c" -lczmq -lzmq
#  The TLS anchors' certificate and key: Ed25519, self-signed (proxyd's are too).
openssl req -x509 -newkey ed25519 -nodes -days 2 -subj /CN=bench -addext subjectAltName=DNS:bench \
    -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2> /dev/null
cat "$WORK/tls.crt" "$WORK/tls.key" > "$WORK/tls.pem"

log () { echo "[$(date +%T)] $*" >&2; }

wait_http () {                   #  url [header]
    for _ in $(seq 200); do
        if curl -sf -o /dev/null ${2:+-H "$2"} "$1"; then return 0; fi
        sleep 0.05
    done
    echo "run.sh: $1 does not answer" >&2; exit 1
}

stop () {                        #  pid...: stops and forgets them
    local pid kept listed
    for pid in "$@"; do
        kill "$pid" 2> /dev/null || true
        wait "$pid" 2> /dev/null || true
        #  Exact matches only: a pattern substitution would turn a listed 1234 into 4 when
        #  stopping 123, and the cleanup would then signal pid 4.
        kept=()
        for listed in "${PIDS[@]}"; do [ "$listed" = "$pid" ] || kept+=("$listed"); done
        PIDS=("${kept[@]}")
    done
}

#  --------------------------------------------------------------------------
#  What is measured

"$BIN/ocf-test-backend" --listen 127.0.0.1:$BACKEND_PORT --threads "$BACKEND_THREADS" --model bench \
    --tokens "$TOKENS" --token-delay-ms "$TOKEN_DELAY_MS" 2> "$WORK/backend.log" &
PIDS+=($!)
wait_http http://127.0.0.1:$BACKEND_PORT/ping

NGINX_PIDS=()
#  tls: "" (plain), "server" (listens with TLS), "client" (forwards over TLS)
start_nginx () {                 #  name port upstream_port workers [tls]
    local dir=$WORK/nginx-$1 listen_tls="" scheme=http upstream_tls=""
    mkdir -p "$dir"
    case "${5:-}" in
    server) listen_tls=" ssl;
        ssl_certificate $WORK/tls.crt;
        ssl_certificate_key $WORK/tls.key;
        ssl_protocols TLSv1.3;
        ssl_session_cache shared:bench:10m;
        ssl_verify_client on;
        ssl_client_certificate $WORK/tls.crt" ;;
    client) scheme=https upstream_tls="proxy_ssl_protocols TLSv1.3;
            proxy_ssl_session_reuse on;
            proxy_ssl_certificate $WORK/tls.crt;
            proxy_ssl_certificate_key $WORK/tls.key;" ;;
    esac
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
        listen 127.0.0.1:$2 reuseport$listen_tls;
        location / {
            proxy_pass $scheme://backend;
            $upstream_tls
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
    [ "${5:-}" = server ] || wait_http http://127.0.0.1:$2/ping
}

HAPROXY_PIDS=()
start_haproxy () {               #  name port upstream_port threads [tls: server | client]
    local dir=$WORK/haproxy-$1 bind_tls="" server_tls=""
    mkdir -p "$dir"
    case "${5:-}" in
    server) bind_tls=" ssl crt $WORK/tls.pem ssl-min-ver TLSv1.3 verify required ca-file $WORK/tls.crt" ;;
    client) server_tls=" ssl verify none ssl-min-ver TLSv1.3 crt $WORK/tls.pem" ;;
    esac
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
    bind 127.0.0.1:$2$bind_tls
    default_backend out
backend out
    server backend 127.0.0.1:$3 maxconn 9000$server_tls
EOF
    haproxy -db -f "$dir/haproxy.cfg" &
    PIDS+=($!) HAPROXY_PIDS+=($!)
    [ "${5:-}" = server ] || wait_http http://127.0.0.1:$2/ping
}

PROXYD_PIDS=()
#  fabric: the fabric listener (host:port), or off (hosts forward to each other in plain HTTP)
start_proxyd () {                #  name port workers fabric [tabled already running]
    local dir=$WORK/proxyd-$1
    bench_write_config "$dir" "$1" "$2" "$4" "workers = $3"
    if [ ! -e "$dir/run/tabled.lock" ] || ! "$BIN/ocfctl" -r "$dir/run" -t 500 HELLO > /dev/null 2>&1; then
        bench_start_tabled "$dir"
    fi
    "$BIN/ocf-proxyd" -c "$dir/ocf.conf" 2>> "$dir/proxyd.log" &
    PIDS+=($!) PROXYD_PIDS+=($!)
    wait_http http://127.0.0.1:$2/v1/health
}

#  Host B serves the backend; the hosts learn each other's rows the way gossip would carry
#  them (B admits A's certificate only once A is a live member of its table).
#  (rowcopy: rows are signed over their text, which must travel unchanged)
copy_rows () {                   #  from_dir to_dir
    "$WORK/rowcopy" "$1/run" "$2/run"
}
start_proxyd_pair () {           #  a b port_a port_b workers fabric_a fabric_b
    start_proxyd "$2" "$4" "$5" "$7"
    start_proxyd "$1" "$3" "$5" "$6"
    "$BIN/ocfctl" -r "$WORK/proxyd-$2/run" SERVICE.UP \
        "{\"service\": {\"name\": \"llm\", \"host\": \"127.0.0.1\", \"port\": $BACKEND_PORT, \"identity_group\": [\"model=bench\"]}}" > /dev/null
    copy_rows "$WORK/proxyd-$2" "$WORK/proxyd-$1"
    copy_rows "$WORK/proxyd-$1" "$WORK/proxyd-$2"
    wait_http "http://127.0.0.1:$3/v1/service/llm/ping" "X-Ocf-Identity: model=bench"
    wait_http "http://127.0.0.1:$4/v1/_service/llm/ping"
}

#  Fails unless some connection to the port is established (the hop really goes there).
expect_connection () {           #  label port
    if [ "$(ss -Htn state established "( dport = :$2 )" | wc -l)" -lt 1 ]; then
        echo "run.sh: $1: no connection to port $2 (the hop does not go where it should)" >&2; exit 1
    fi
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
            results+=("$("$WORK/sse_bench" "$3" "$4" "$5" "$count" '{"model": "bench", "stream": true}' "$6" ${7:+"$7"} || true)")
        done
        local p50 p99 rss events
        p50=$(printf '%s\n' "${results[@]}" | sed 's/.*p50_us=\([0-9]*\).*/\1/' | median)
        p99=$(printf '%s\n' "${results[@]}" | sed 's/.*p99_us=\([0-9]*\).*/\1/' | median)
        rss=$(printf '%s\n' "${results[@]}" | sed 's/.*rss_max_kb=\([0-9]*\).*/\1/' | median)
        events=$(printf '%s\n' "${results[@]}" | sed 's/.*events=\([0-9]*\).*/\1/' | median)
        STREAMROWS+=("$1|$2|$count|$events|$p50|$p99|$rss")
    done
}

#  One run of everything measured on a path: "rps p50 p99 one50 one99", then per stream count
#  "count events p50 p99 rss"; appended to $WORK/tls.raw as "name round what values...".
measure_once () {                #  name round port url_path stream_path pids [header]
    local out one
    out=$(wrk -t"$TLS_WORKERS" -c50 -d"$DURATION" --latency ${7:+-H "$7"} "http://127.0.0.1:$3$4")
    one=$(wrk -t1 -c1 -d"$DURATION" --latency ${7:+-H "$7"} "http://127.0.0.1:$3$4")
    if echo "$out$one" | grep -q "Non-2xx\|Socket errors"; then echo "run.sh: errors from $1:" >&2; echo "$out$one" >&2; exit 1; fi
    echo "$1 $2 http $(echo "$out" | awk '/Requests\/sec/ { print $2 }')" \
        "$(to_us "$(echo "$out" | awk '$1 == "50%" { print $2 }')") $(to_us "$(echo "$out" | awk '$1 == "99%" { print $2 }')")" \
        "$(to_us "$(echo "$one" | awk '$1 == "50%" { print $2 }')") $(to_us "$(echo "$one" | awk '$1 == "99%" { print $2 }')")" >> "$WORK/tls.raw"
    for count in $STREAMS; do
        #  Streams that failed are counted (errors), not fatal: the report shows them.
        out=$("$WORK/sse_bench" 127.0.0.1 "$3" "$5" "$count" '{"model": "bench", "stream": true}' "$6" ${7:+"$7"} || true)
        echo "$1 $2 streams $count $(echo "$out" | sed 's/.*events=\([0-9]*\).*p50_us=\([0-9]*\).*p99_us=\([0-9]*\).*rss_max_kb=\([0-9]*\).*/\1 \2 \3 \4/')" \
            "$(echo "$out" | sed 's/.*errors=\([0-9]*\).*/\1/')" >> "$WORK/tls.raw"
    done
}

tls_rows () {
    log "TLS two-hop: nginx, haproxy and proxyd pairs with $TLS_WORKERS worker(s), $RUNS rounds"
    start_nginx tb $NGINX_TB $BACKEND_PORT "$TLS_WORKERS" server
    start_nginx ta $NGINX_TA $NGINX_TB "$TLS_WORKERS" client
    expect_connection "nginx A -> B (TLS)" $NGINX_TB
    start_haproxy tb $HAPROXY_TB $BACKEND_PORT "$TLS_WORKERS" server
    start_haproxy ta $HAPROXY_TA $HAPROXY_TB "$TLS_WORKERS" client
    expect_connection "haproxy A -> B (TLS)" $HAPROXY_TB
    start_proxyd_pair ta tb $PROXYD_TA $PROXYD_TB "$TLS_WORKERS" 127.0.0.1:$FABRIC_TA 127.0.0.1:$FABRIC_TB
    expect_connection "proxyd A -> B's fabric listener" $FABRIC_TB
    local nginx_pids haproxy_pids proxyd_pids
    nginx_pids="$(pids_of "${NGINX_PIDS[1]}"),$(pids_of "${NGINX_PIDS[0]}")"
    haproxy_pids="${HAPROXY_PIDS[1]},${HAPROXY_PIDS[0]}"
    proxyd_pids="${PROXYD_PIDS[1]},${PROXYD_PIDS[0]}"
    : > "$WORK/tls.raw"
    local order=(backend nginx haproxy proxyd)
    for round in $(seq "$RUNS"); do
        log "TLS round $round of $RUNS (load: $(cut -d' ' -f1-3 /proc/loadavg))"
        echo "load $round $(cut -d' ' -f1 /proc/loadavg)" >> "$WORK/tls.raw"
        for i in 0 1 2 3; do         #  each round starts one later: none is always first
            case ${order[$(((i + round - 1) % 4))]} in
            backend) measure_once backend "$round" $BACKEND_PORT /ping /v1/chat/completions "" ;;
            nginx) measure_once nginx "$round" $NGINX_TA /ping /v1/chat/completions "$nginx_pids" ;;
            haproxy) measure_once haproxy "$round" $HAPROXY_TA /ping /v1/chat/completions "$haproxy_pids" ;;
            proxyd) measure_once proxyd "$round" $PROXYD_TA /v1/service/llm/ping /v1/chat/completions "$proxyd_pids" \
                        "X-Ocf-Identity: model=bench" ;;
            esac
        done
    done
    TLS_RESUMED=$(curl -s "http://127.0.0.1:$PROXYD_TA/metrics" | awk '/^ocf_proxyd_upstream_connections_total / { print $2 }' || true)
    stop "${NGINX_PIDS[@]}" "${HAPROXY_PIDS[@]}" "${PROXYD_PIDS[@]}"; NGINX_PIDS=() HAPROXY_PIDS=() PROXYD_PIDS=()
}

#  The TLS report: medians over the rounds, with the range (min-max) of each figure.
tls_report () {
    python3 - "$WORK/tls.raw" "$STREAMS" <<'PY'
import sys, statistics
raw = [line.split() for line in open(sys.argv[1])]
counts = sys.argv[2].split()
names = ["backend", "nginx", "haproxy", "proxyd"]
med = lambda v: statistics.median(v)
loads = [float(r[2]) for r in raw if r[0] == "load"]
http = {n: [list(map(float, r[3:])) for r in raw if r[0] == n and r[2] == "http"] for n in names}
streams = {(n, c): [list(map(float, r[4:])) for r in raw if r[0] == n and r[2] == "streams" and r[3] == c] for n in names for c in counts}
def fig(values, i):
    v = [x[i] for x in values]
    return med(v), min(v), max(v)
print("Rounds: %d; load average (1 min) at each round's start: %s." % (len(loads), ", ".join("%.2f" % l for l in loads)))
print()
print("| proxy | req/s at 50 conn (range) | vs nginx | vs haproxy | p50 / p99 at 50 conn | added p50 / p99 at 1 conn |")
print("|---|---|---|---|---|---|")
base = {i: fig(http["backend"], i)[0] for i in range(5)}
ng, hp = fig(http["nginx"], 0)[0], fig(http["haproxy"], 0)[0]
for n in names:
    rps, lo, hi = fig(http[n], 0)
    p50, p99 = fig(http[n], 1)[0], fig(http[n], 2)[0]
    one50, one99 = fig(http[n], 3)[0], fig(http[n], 4)[0]
    added = "—" if n == "backend" else "%+.0f µs / %+.0f µs" % (one50 - base[3], one99 - base[4])
    vs = ("—", "—") if n == "backend" else ("%.2f×" % (rps / ng), "%.2f×" % (rps / hp))
    print("| %s | %.0f (%.0f–%.0f) | %s | %s | %.0f µs / %.0f µs | %s |" % (n if n == "backend" else n + " two-hop TLS", rps, lo, hi, vs[0], vs[1], p50, p99, added))
print()
print("| proxy | streams | events (streams failed, all rounds) | delay p50 / p99 | added p50 | added p99 (range over rounds) | vs nginx | peak RSS, A + B |")
print("|---|---|---|---|---|---|---|---|")
for c in counts:
    b = streams[("backend", c)]
    if not b:
        continue
    rounds = len(b)
    b50, b99 = fig(b, 1)[0], fig(b, 2)[0]
    nginx99 = None
    for n in names:
        v = streams[(n, c)]
        p50, p99, rss, events = fig(v, 1)[0], fig(v, 2)[0], fig(v, 3)[0], fig(v, 0)[0]
        if n == "backend":
            print("| backend | %s | %.0f (%.0f) | %.0f µs / %.0f µs | — | — | — | — |" % (c, events, sum(x[4] for x in v), p50, p99))
            continue
        #  added per round (against the backend of the same round), then the median
        per = sorted(v[i][2] - b[i][2] for i in range(min(len(v), len(b))))
        added99 = med(per)
        if n == "nginx":
            nginx99 = added99
        print("| %s two-hop TLS | %s | %.0f (%.0f) | %.0f µs / %.0f µs | %+.0f µs | %+.0f µs (%+.0f to %+.0f) | %s | %.0f MB |" % (
            n, c, events, sum(x[4] for x in v), p50, p99, p50 - b50, added99, per[0], per[-1],
            "%.2f×" % (added99 / nginx99) if nginx99 and nginx99 > 0 else "—", rss / 1024))
PY
}

if [ "$ONLY" != tls ]; then
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

    start_proxyd_pair a b $PROXYD_A $PROXYD_B "$workers" off off
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
fi
[ "$ONLY" = plain ] || tls_rows

#  --------------------------------------------------------------------------
#  Report

{
    echo "## ocf-proxyd vs nginx vs haproxy ($(date -u +%F), $(nproc) cores: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))"
    echo
    echo "Backend: ocf-test-backend, $BACKEND_THREADS threads. wrk, $DURATION per run, medians of $RUNS runs."
    echo "$(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v | head -1 | awk '{ print "haproxy " $3 }'), ocf-proxyd $("$BIN/ocf-proxyd" --version | awk '{ print $2 }')."
    echo
    if [ "$ONLY" != tls ]; then
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
    echo
    fi
    if [ "$ONLY" != plain ]; then
    echo "### Two-hop with TLS 1.3 between A and B ($TLS_WORKERS worker each; rounds alternating the four)"
    echo
    echo "Ed25519 certificates on both sides of every hop (nginx and haproxy: one made by openssl;"
    echo "proxyd: each host's, from its node key); connections A → B kept alive, sessions resumed."
    echo "GET /ping with wrk (50 connections, $TLS_WORKERS thread; and 1), $DURATION per run; streams of $TOKENS events."
    echo "Added delays are against the backend alone measured in the same round. proxyd A opened"
    echo "${TLS_RESUMED:-?} connection(s) to B's fabric listener in all."
    echo
    tls_report
    fi
} > "$REPORT"
cat "$REPORT"
[ -n "${OUT:-}" ] && cp "$REPORT" "$OUT"
exit 0
