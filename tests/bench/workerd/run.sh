#!/usr/bin/env bash
#  ocf-workerd restarted under load. One command: tests/bench/workerd/run.sh
#
#  A one-host node from the build tree (ocf-tabled, ocf-proxyd, ocf-workerd running one
#  ocf-test-backend) serves CONCURRENCY client loops, each asking ocf-proxyd for one streamed
#  chat completion after another (TOKENS tokens, TOKEN_DELAY_MS apart). Meanwhile, ROUNDS
#  times each, ocf-workerd is killed with -9 and started again, and stopped with SIGTERM and
#  started again. Reported: requests, failed requests (curl error, HTTP error, no [DONE]),
#  streams cut (fewer tokens than asked), whether the backend kept its pid, and the adoption
#  time: from workerd's log (its start to the adoption, "N ms after workerd started") and from
#  outside (the new workerd's exec to a STATS that shows the backend adopted, healthy and
#  registered). Results: a Markdown report on stdout (and in $OUT if set). Only 127.0.0.1 is
#  used; everything started here is stopped at the end (the backend with `ocfctl STOP`).
#
#  Settings (environment): BUILD (a build tree, default ./build), CONCURRENCY (16), ROUNDS (5),
#  TOKENS (40), TOKEN_DELAY_MS (25), PORT_BASE (28300), SETTLE_S (seconds of load between
#  two restarts, 2).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/bin
CONCURRENCY=${CONCURRENCY:-16}
ROUNDS=${ROUNDS:-5}
TOKENS=${TOKENS:-40}
TOKEN_DELAY_MS=${TOKEN_DELAY_MS:-25}
PORT_BASE=${PORT_BASE:-28300}
SETTLE_S=${SETTLE_S:-2}
for program in ocf-tabled ocf-proxyd ocf-workerd ocfctl ocf-test-backend; do
  [ -x "$BIN/$program" ] || { echo "missing $BIN/$program: build the tree first (cmake --build $BUILD)" >&2; exit 1; }
done

dir=$(mktemp -d /tmp/ocf-bench-workerd-XXXXXX)
api=$PORT_BASE
backend_port=$((PORT_BASE + 2))
pids=()
cleanup() {
  rm -f "$dir/loading"
  #  The backend outlives workerd: STOP stops it; a record left means it may still run.
  "$BIN/ocfctl" -r "$dir/run" -d workerd -t 2000 STOP >/dev/null 2>&1 || true
  for _ in $(seq 50); do [ -f "$dir/state/backends/llm.json" ] || break; sleep 0.1; done
  left=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$dir/state/backends/llm.json" 2>/dev/null || true)
  [ -z "$left" ] || kill -KILL -- "-$left" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT

cat > "$dir/ocf.conf" <<CONF
[node]
name = bench-workerd
state_dir = $dir/state
run_dir = $dir/run
public_addr = 127.0.0.1
[proxyd]
listen = 127.0.0.1:$api
fabric_listen = off
[workerd]
health_interval = 1s
[service.llm]
command = $BIN/ocf-test-backend --listen 127.0.0.1:$backend_port --model bench-model --threads 2
    --tokens $TOKENS --token-delay-ms $TOKEN_DELAY_MS
port = $backend_port
models_path = /v1/models
CONF
"$BIN/ocf-tabled" -c "$dir/ocf.conf" > "$dir/tabled.log" 2>&1 & pids+=($!)
sleep 0.3
"$BIN/ocf-proxyd" -c "$dir/ocf.conf" > "$dir/proxyd.log" 2>&1 & pids+=($!)
start_workerd() { "$BIN/ocf-workerd" -c "$dir/ocf.conf" >> "$dir/workerd.log" 2>&1 & workerd=$!; }
start_workerd
stats() { "$BIN/ocfctl" -r "$dir/run" -d workerd -t 1000 STATS 2>/dev/null || true; }
backend_pid() { stats | sed -n 's/.*"pid": \([0-9]*\).*/\1/p' | head -1; }
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$api/v1/models" 2>/dev/null | grep -q bench-model && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$api/v1/models" | grep -q bench-model || { echo "the backend never became routable" >&2; tail "$dir"/*.log >&2; exit 1; }

#  The load: each loop records "curl_status tokens done" per request.
touch "$dir/loading"
client() {
  local n=0
  while [ -f "$dir/loading" ]; do
    n=$((n + 1))
    local out="$dir/stream.$1"
    local status=0
    curl -sSN --max-time 60 -o "$out" -w '%{http_code}' "http://127.0.0.1:$api/v1/chat/completions" \
      -H 'Content-Type: application/json' \
      -d '{"model": "bench-model", "stream": true, "messages": [{"role": "user", "content": "hi"}]}' \
      > "$out.code" 2>/dev/null || status=$?
    echo "$status $(cat "$out.code") $(grep -c '"content"' "$out" || true) $(grep -c 'data: \[DONE\]' "$out" || true)" >> "$dir/results.$1"
  done
}
clients=()
for i in $(seq "$CONCURRENCY"); do client "$i" & clients+=($!); done

first_pid=$(backend_pid)
adopt_log=()
adopt_outside=()
pid_kept=yes
for round in $(seq "$ROUNDS"); do
  for how in kill9 sigterm; do
    sleep "$SETTLE_S"
    if [ "$how" = kill9 ]; then kill -9 "$workerd"; else kill -TERM "$workerd"; fi
    wait "$workerd" 2>/dev/null || true
    started=$(date +%s%N)
    start_workerd
    outside=""
    for _ in $(seq 1000); do
      s=$(stats)
      if echo "$s" | grep -q '"adopted": true' && echo "$s" | grep -q '"registered": true'; then
        outside=$(( ($(date +%s%N) - started) / 1000000 ))
        break
      fi
      sleep 0.005
    done
    adopt_outside+=("${outside:-none}")
    adopt_log+=("$(grep -o '1 running backend adopted, [0-9]* ms' "$dir/workerd.log" | tail -1 | grep -o '[0-9]* ms' | cut -d' ' -f1)")
    [ "$(backend_pid)" = "$first_pid" ] || pid_kept=no
  done
done
sleep "$SETTLE_S"
rm -f "$dir/loading"
wait "${clients[@]}"
pids+=("$workerd")

cat "$dir"/results.* > "$dir/results"
requests=$(wc -l < "$dir/results")
failed=$(awk '$1 != 0 || $2 != 200 || $4 != 1' "$dir/results" | wc -l)
cut=$(awk -v t="$TOKENS" '$3 < t' "$dir/results" | wc -l)
stat_line() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {printf "median %s ms, max %s ms", v[int((NR+1)/2)], v[NR]}'; }
report=$(cat <<REPORT
## ocf-workerd restarted under load ($(date -u +%Y-%m-%d), $(nproc) CPUs)

$CONCURRENCY client loops of streamed chat completions through ocf-proxyd ($TOKENS tokens, $TOKEN_DELAY_MS ms apart);
ocf-workerd killed with -9 and restarted $ROUNDS times, stopped with SIGTERM and restarted $ROUNDS times.

| figure | value |
|---|---|
| requests | $requests |
| failed requests | $failed |
| streams cut | $cut |
| backend pid unchanged ($first_pid) | $pid_kept |
| adoption, workerd's log (start → adopted) | $(stat_line "${adopt_log[@]}") |
| adoption, from outside (exec → STATS adopted and registered) | $(stat_line "${adopt_outside[@]}") |
REPORT
)
echo "$report"
[ -z "${OUT:-}" ] || echo "$report" > "$OUT"
[ "$failed" = 0 ] && [ "$cut" = 0 ] && [ "$pid_kept" = yes ]
