#!/usr/bin/env bash
#  What open dashboards cost ocf-proxyd. One command: tests/bench/dashboard/run.sh
#
#  Three hosts on loopback (ocf-tabled and ocf-proxyd each, rows copied as gossip would), two
#  of them serving a model through an ocf-test-backend, one request a second routed through
#  host A so that its model figures move. Host A's proxyd CPU (utime + stime from
#  /proc/PID/stat) is measured for DURATION seconds with no dashboard open, then with CLIENTS
#  dashboards open: each fetches the page once, then GET /v1/dashboard?since=<its last event>
#  every second, as the page does. Results: a Markdown report on stdout.
#
#  Settings (environment): BUILD (a build tree it builds the daemons in, default
#  ./build-bench, Release), CLIENTS (20), DURATION (60), PORT_BASE (28400).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
BIN=$BUILD/bin
CLIENTS=${CLIENTS:-20}
DURATION=${DURATION:-60}
PORT_BASE=${PORT_BASE:-28400}

for tool in cc curl; do
    command -v $tool > /dev/null || { echo "run.sh: $tool is needed" >&2; exit 1; }
done
if [ ! -e "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DOCF_TESTS=ON > /dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target ocf-tabled ocf-proxyd ocf-test-backend ocfctl > /dev/null

source "$ROOT/tests/bench/lib.sh"
bench_work ocf-dashboard-bench
bench_ports_free "$PORT_BASE" $((PORT_BASE + 3))
cc -O2 -o "$WORK/rowcopy" "$ROOT/tests/bench/proxy/rowcopy.c" -lczmq -lzmq

wait_http () {                   #  url
    for _ in $(seq 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.05; done
    echo "run.sh: $1 does not answer" >&2; exit 1
}

BACKEND_PORT=$((PORT_BASE + 3))
"$BIN/ocf-test-backend" --listen 127.0.0.1:$BACKEND_PORT --model bench 2> "$WORK/backend.log" &
PIDS+=($!)
wait_http http://127.0.0.1:$BACKEND_PORT/ping

PROXYD_A=
for i in 0 1 2; do
    name=$(printf "\\x$(printf %x $((97 + i)))")
    dir=$WORK/$name
    bench_write_config "$dir" "$name" $((PORT_BASE + i)) off
    bench_start_tabled "$dir"
    "$BIN/ocf-proxyd" -c "$dir/ocf.conf" 2>> "$dir/proxyd.log" &
    PIDS+=($!)
    [ -n "$PROXYD_A" ] || PROXYD_A=$!
    wait_http http://127.0.0.1:$((PORT_BASE + i))/v1/health
    if [ "$i" != 0 ]; then
        "$BIN/ocfctl" -r "$dir/run" SERVICE.UP "{\"service\": {\"name\": \"llm\", \"host\": \"127.0.0.1\", \"port\": $BACKEND_PORT, \"identity_group\": [\"model=bench\"]}}" > /dev/null
    fi
done
for from in a b c; do for to in a b c; do
    [ "$from" = "$to" ] || "$WORK/rowcopy" "$WORK/$from/run" "$WORK/$to/run"
done; done
URL=http://127.0.0.1:$PORT_BASE

#  One chat completion a second through A: the models table has figures to compute.
( while :; do
    curl -s -o /dev/null -H 'Content-Type: application/json' \
        -d '{"model": "bench", "messages": [{"role": "user", "content": "hi"}]}' "$URL/v1/chat/completions" || true
    sleep 1
  done ) &
PIDS+=($!)

TICKS=$(getconf CLK_TCK)
cpu_ticks () { awk '{ print $14 + $15 }' "/proc/$PROXYD_A/stat"; }
#  Percent of one core over DURATION seconds.
measure () {
    local before after
    before=$(cpu_ticks)
    sleep "$DURATION"
    after=$(cpu_ticks)
    printf "%.2f" "$(echo "scale=4; 100 * ($after - $before) / $TICKS / $DURATION" | bc)"
}
requests () { curl -s "$URL/metrics" | awk '/^ocf_proxyd_requests_total\{route="dashboard_data"/ { n += $2 } END { print n + 0 }'; }

IDLE=$(measure)
dashboard () {
    curl -s -o /dev/null "$URL/"
    local since=0
    while :; do
        since=$(curl -s "$URL/v1/dashboard?since=$since" | sed -n 's/.*"events_seq":\([0-9]*\).*/\1/p')
        since=${since:-0}
        sleep 1
    done
}
for _ in $(seq "$CLIENTS"); do dashboard & PIDS+=($!); done
sleep 2                          #  every client has started polling
SERVED_BEFORE=$(requests)
OPEN=$(measure)
SERVED=$(( $(requests) - SERVED_BEFORE ))
BYTES=$(curl -s -o /dev/null -w '%{size_download}' "$URL/v1/dashboard?since=1000000")

echo "## ocf-proxyd with dashboards open ($(date -u +%F), $(nproc) cores: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))"
echo
echo "Three hosts, host A measured over ${DURATION} s, 1 chat completion/s routed through it, $(grep CMAKE_BUILD_TYPE: "$BUILD/CMakeCache.txt" | cut -d= -f2) build."
echo
echo "| dashboards open | proxyd CPU (% of one core) | /v1/dashboard answered | document size |"
echo "|---|---|---|---|"
echo "| 0 | $IDLE | - | - |"
echo "| $CLIENTS | $OPEN | $SERVED ($(echo "scale=1; $SERVED / $DURATION" | bc)/s) | $BYTES bytes |"
