#!/usr/bin/env bash
#  What the prefix policy's choice adds per request at 50 connections, in ocf-proxyd's CPU time.
#  One command: tests/bench/routing/choice_cost.sh
#
#  A front host F (ocf-tabled + ocf-proxyd, no service of its own) in front of PROVIDERS hosts
#  (ocf-tabled + ocf-proxyd + an ocf-test-backend each), on loopback, rows copied between the
#  tables as gossip would, plain HTTP between the hosts. F provides nothing, so under either
#  policy it chooses among the same providers and forwards every request one hop: the only
#  difference is the choice (p2c: the less loaded of two drawn; prefix: the key from the body,
#  then the bounded-load order). wrk, CONNECTIONS connections, POSTs non-streamed chat
#  completions of ~6.2 KiB to F (bench_choice's "shared system prompt" body: a 6,000-byte
#  system prompt, one of BODIES in turn, and a 200-byte question), each connection waiting
#  THINK_MS between its requests: the same request rate under both policies, since proxyd's
#  CPU per request falls as its rate rises (more requests per wakeup), and a closed loop at full
#  speed ran one policy up to 1.7x faster than the other in the same round. Rounds alternate F's
#  `[proxyd] policy = p2c` and `= prefix` (F restarted with the other config, all else running
#  on; the first policy alternates too); each run has WARMUP seconds of warm-up, then DURATION
#  seconds measured. Measured: F's proxyd CPU time (utime + stime of all its threads,
#  /proc/PID/stat) over the run divided by the requests wrk completed: CPU time, not latency,
#  as the machine may be shared. Reported: each run (with requests/s, load average and how F
#  chose), the medians per policy, and prefix - p2c per round and its median = what the prefix
#  choice adds per request. A Markdown report on stdout (and in $OUT if set). Only 127.0.0.1;
#  everything started here is stopped by PID at the end.
#
#  Settings (environment): BUILD (a Release build tree it configures and builds, default
#  ./build-bench), PROVIDERS (3), ROUNDS (5), DURATION seconds per run (10), WARMUP seconds (1),
#  CONNECTIONS (50), TOKENS per completion (4), BODIES (12 distinct system prompts), THINK_MS
#  (10; 0: as fast as they go), PORT_BASE (28350). About 2 minutes once built
#  (ROUNDS * 2 * (DURATION + WARMUP + 0.5) s + setup).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
BIN=$BUILD/bin
PROVIDERS=${PROVIDERS:-3}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-50}
TOKENS=${TOKENS:-4}
BODIES=${BODIES:-12}
THINK_MS=${THINK_MS:-10}
PORT_BASE=${PORT_BASE:-28350}

for tool in wrk cc curl python3; do
    command -v $tool > /dev/null || { echo "choice_cost.sh: $tool is needed" >&2; exit 1; }
done
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DOCF_TESTS=ON -DOCF_BENCH=ON > /dev/null
cmake --build "$BUILD" -j"$(nproc)" --target ocf-tabled ocf-proxyd ocf-test-backend ocfctl bench_choice > /dev/null

source "$ROOT/tests/bench/lib.sh"
bench_work ocf-bench-choice
#  F's proxyd, then each provider's proxyd and backend.
FRONT_PORT=$PORT_BASE
proxy_port () { echo $((PORT_BASE + 1 + $1)); }
backend_port () { echo $((PORT_BASE + 1 + PROVIDERS + $1)); }
bench_ports_free $PORT_BASE $((PORT_BASE + 2 * PROVIDERS))
cc -O2 -o "$WORK/rowcopy" "$ROOT/tests/bench/proxy/rowcopy.c" -lczmq -lzmq

log () { echo "[$(date +%T)] $*" >&2; }

wait_until () {                  #  what command...
    local what=$1; shift
    for _ in $(seq 200); do "$@" > /dev/null 2>&1 && return 0; sleep 0.05; done
    echo "choice_cost.sh: $what did not come up" >&2; exit 1
}

#  The requests: bench_choice.c's "shared system prompt" body (its s_text), not streamed, with
#  BODIES system prompts (seeds a, b, ...) that wrk sends in turn: conversations that spread
#  over the providers under prefix as under p2c, so that neither policy loads one provider host
#  (and slows the whole run) more than the other.
python3 - "$WORK/request.lua" "$TOKENS" "$BODIES" "$THINK_MS" <<'PY'
import json, sys
def text(size, seed):
    return ''.join(' ' if i % 7 == 6 else chr(ord('a') + (i * 31 + ord(seed)) % 26) for i in range(size))
bodies = [json.dumps({"model": "bench", "stream": False, "max_tokens": int(sys.argv[2]),
                      "messages": [{"role": "system", "content": text(6000, chr(ord('a') + n))},
                                   {"role": "user", "content": text(200, 'q')}]}, separators=(',', ':'))
          for n in range(int(sys.argv[3]))]
with open(sys.argv[1], 'w') as out:
    out.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal bodies = {\n')
    out.write(''.join('[==[%s]==],\n' % body for body in bodies))
    out.write('}\nlocal requests, n = {}, 0\n'
              'function init(args) for i, body in ipairs(bodies) do requests[i] = wrk.format(nil, nil, nil, body) end end\n'
              'function request() n = n %% #requests + 1; return requests[n] end\n'
              'function delay() return %d end\n' % int(sys.argv[4]))
print(len(bodies[0]), file=open(sys.argv[1] + '.size', 'w'))
PY
BODY_BYTES=$(cat "$WORK/request.lua.size")

#  The providers: tabled, proxyd, backend and service each; F: tabled only, for now.
for i in $(seq 0 $((PROVIDERS - 1))); do
    "$BIN/ocf-test-backend" --listen 127.0.0.1:"$(backend_port $i)" --name b$i --model bench --tokens "$TOKENS" \
        2>> "$WORK/backend-$i.log" &
    PIDS+=($!)
    bench_write_config "$WORK/p$i" "p$i" "$(proxy_port $i)" off
    bench_start_tabled "$WORK/p$i"
    "$BIN/ocf-proxyd" -c "$WORK/p$i/ocf.conf" 2>> "$WORK/p$i/proxyd.log" &
    PIDS+=($!)
    "$BIN/ocfctl" -r "$WORK/p$i/run" SERVICE.UP \
        "{\"service\": {\"name\": \"llm\", \"host\": \"127.0.0.1\", \"port\": $(backend_port $i), \"identity_group\": [\"model=bench\"]}}" > /dev/null
done
bench_write_config "$WORK/front" front $FRONT_PORT off
bench_start_tabled "$WORK/front"
DIRS="front $(for i in $(seq 0 $((PROVIDERS - 1))); do printf 'p%s ' $i; done)"
for from in $DIRS; do for to in $DIRS; do
    [ "$from" = "$to" ] || "$WORK/rowcopy" "$WORK/$from/run" "$WORK/$to/run"
done; done
for i in $(seq 0 $((PROVIDERS - 1))); do
    wait_until "backend b$i" curl -sf "http://127.0.0.1:$(backend_port $i)/health"
    wait_until "proxyd p$i" curl -sf "http://127.0.0.1:$(proxy_port $i)/v1/health"
done

FRONT_PID=
start_front () {                 #  policy
    if [ -n "$FRONT_PID" ]; then
        kill "$FRONT_PID"; wait "$FRONT_PID" 2> /dev/null || true
        local pid kept=()
        for pid in "${PIDS[@]}"; do [ "$pid" = "$FRONT_PID" ] || kept+=("$pid"); done
        PIDS=("${kept[@]}")
    fi
    bench_write_config "$WORK/front" front $FRONT_PORT off "policy = $1"
    "$BIN/ocf-proxyd" -c "$WORK/front/ocf.conf" 2>> "$WORK/front/proxyd.log" &
    FRONT_PID=$!
    PIDS+=("$FRONT_PID")
    wait_until "proxyd F ($1) with $PROVIDERS providers" sh -c \
        "curl -sf http://127.0.0.1:$FRONT_PORT/v1/models | grep -q '\"providers\": *$PROVIDERS\\|\"providers\":$PROVIDERS'"
}

TICKS=$(getconf CLK_TCK)
cpu_ticks () { awk '{ print $14 + $15 }' "/proc/$FRONT_PID/stat"; }
URL=http://127.0.0.1:$FRONT_PORT/v1/chat/completions
RAW=$WORK/runs.txt
: > "$RAW"

#  One run: "round policy requests cpu_ticks seconds load1 choices".
measure () {                     #  round policy
    start_front "$2"
    wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$WORK/request.lua" "$URL" > /dev/null
    local load before after out
    load=$(cut -d' ' -f1 /proc/loadavg)
    before=$(cpu_ticks)
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/request.lua" "$URL")
    after=$(cpu_ticks)
    if echo "$out" | grep -q "Non-2xx\|Socket errors"; then echo "choice_cost.sh: errors from F ($2):" >&2; echo "$out" >&2; exit 1; fi
    local requests choices
    requests=$(echo "$out" | awk '/requests in/ { print $1 }')
    #  How F chose (local, balanced, affinity, spilled), warm-up included: the policy really ran.
    choices=$(curl -sf http://127.0.0.1:$FRONT_PORT/metrics | grep '^ocf_proxyd_choices_total{' \
        | sed 's/.*how="\([a-z]*\)"} \([0-9]*\).*/\1=\2/' | paste -sd, -)
    echo "$1 $2 $requests $((after - before)) $DURATION $load ${choices:-none}" >> "$RAW"
    log "round $1 $2: $(tail -1 "$RAW")"
}

for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then order="p2c prefix"; else order="prefix p2c"; fi
    for policy in $order; do measure "$round" "$policy"; done
done

report () {
    echo "## The prefix choice's cost at $CONNECTIONS connections ($(date -u +%F), $(nproc) cores: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))"
    echo
    echo "A front proxyd (1 worker, provides nothing) choosing among $PROVIDERS provider hosts, one hop each;"
    echo "wrk -t1 -c$CONNECTIONS, POST /v1/chat/completions, $BODY_BYTES-byte bodies (one of $BODIES 6,000-byte system"
    echo "prompts in turn), not streamed, $TOKENS tokens, $THINK_MS ms between a connection's requests; $ROUNDS rounds of ${DURATION} s per policy (after ${WARMUP} s of"
    echo "warm-up), alternating. CPU per request: the front proxyd's utime + stime over the run / requests completed."
    echo
    python3 - "$RAW" "$TICKS" <<'PY'
import sys, statistics
ticks = float(sys.argv[2])
runs = [line.split() for line in open(sys.argv[1])]
per = {}
print('| round | policy | requests/s | CPU per request | load average (1 min) | choices (how=count) |')
print('|---|---|---|---|---|---|')
for rnd, policy, requests, cpu, secs, load, choices in runs:
    us = int(cpu) / ticks / int(requests) * 1e6
    per.setdefault(policy, {})[rnd] = us
    print('| %s | %s | %.0f | %.1f µs | %s | %s |' % (rnd, policy, int(requests) / float(secs), us, load, choices))
print()
med = {p: statistics.median(v.values()) for p, v in per.items()}
diffs = [per['prefix'][r] - per['p2c'][r] for r in sorted(per['p2c'], key=int) if r in per['prefix']]
loads = [float(r[5]) for r in runs]
print('Median CPU per request: p2c %.1f µs, prefix %.1f µs; prefix − p2c: %+.1f µs (median of the rounds\' '
      'differences; per round: %s); load average %.2f–%.2f.' % (
      med['p2c'], med['prefix'], statistics.median(diffs), ', '.join('%+.1f' % d for d in diffs), min(loads), max(loads)))
PY
    echo
    echo "The key and the choice alone, one thread (bench_choice $PROVIDERS):"
    echo
    "$BUILD/bench/bench_choice" "$PROVIDERS" | sed -n '1s/^/* /p'
}
if [ -n "${OUT:-}" ]; then report | tee "$OUT"; else report; fi
