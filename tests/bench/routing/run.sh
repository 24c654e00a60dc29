#!/usr/bin/env bash
#  The routing policies against each other, in one run: p2c, round_robin and prefix, over HOSTS
#  hosts on loopback (ocf-tabled + ocf-proxyd each, rows copied between the tables as gossip
#  would; plain HTTP between the hosts), each with one ocf-test-backend that simulates a GPU
#  backend's prefix cache (--prefix-cache-blocks: an LRU of 256-byte prompt blocks;
#  --prefill-us-per-kib: prefill time of the uncached part, one prompt at a time).
#  One command: tests/bench/routing/run.sh
#
#  Workloads (tests/bench/routing/loadgen.py): shared (long system prompts shared by every
#  client), multiturn (conversations resent whole at each turn, turns entering at different
#  hosts), unique (prompts that share nothing). Each (policy, workload) run starts with fresh
#  backends (empty caches) and the same clients, seed and think time, so the same offered load.
#  ROUNDS rounds, each running every policy (in a rotated order, so none always runs first or
#  last) on every workload with the round's own seed (other prompts and conversations; the
#  policies of a round see the same ones). Reported per policy and workload, medians over the
#  rounds (min–max): completed requests/s, TTFT p50/p99, prefix-cache hit rate (the backends'
#  vllm:prefix_cache_* counters), max/mean requests per backend; then each policy against p2c,
#  the median of the rounds' ratios, as the issue's targets are put. Then what the prefix
#  policy's key and choice cost per request (bench_choice.c, alone on the machine). A Markdown
#  report on stdout (and in $OUT if set). Only 127.0.0.1 is used; everything started here is
#  stopped at the end.
#
#  The cache size: 100 blocks (25 KiB) per backend hold about a third of the shared
#  workload's 12 prompts (276 blocks), so the three backends together hold them all when each
#  keeps its own third, and one backend cannot hold them all: the fleet prefix routing is for.
#  With 160 blocks a backend holds 7 of the 12, p2c hits about 48 %, and 2 × that is above
#  what any policy can hit (23 of a request's 24 blocks, 96 %): CACHE_BLOCKS=160 shows it.
#
#  Settings (environment): BUILD (a Release build tree it configures and builds, default
#  ./build-bench), HOSTS (3), POLICIES ("p2c round_robin prefix"), WORKLOADS ("shared multiturn
#  unique"), ROUNDS (3), CLIENTS (12), DURATION seconds per run (20), THINK_MS (100),
#  CACHE_BLOCKS (100, per backend), PREFILL_US_PER_KIB (4000; a comma-separated list gives
#  backend i the i-th, the last for the rest: "8000,4000" makes the first host's twice as
#  slow), TOKENS (8), TOKEN_DELAY_MS (5),
#  PREFIX_BALANCE ([proxyd] prefix_balance, 0.25), PORT_BASE (28300),
#  QUICK=1 (one round of 5 s runs: a smoke test).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
BIN=$BUILD/bin
HOSTS=${HOSTS:-3}
POLICIES=${POLICIES:-"p2c round_robin prefix"}
WORKLOADS=${WORKLOADS:-"shared multiturn unique"}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-12}
DURATION=${DURATION:-20}
THINK_MS=${THINK_MS:-100}
CACHE_BLOCKS=${CACHE_BLOCKS:-100}
PREFILL_US_PER_KIB=${PREFILL_US_PER_KIB:-4000}
TOKENS=${TOKENS:-8}
TOKEN_DELAY_MS=${TOKEN_DELAY_MS:-5}
PORT_BASE=${PORT_BASE:-28300}
PREFIX_BALANCE=${PREFIX_BALANCE:-0.25}
if [ "${QUICK:-0}" = 1 ]; then DURATION=5 ROUNDS=1; fi

for tool in cc curl python3; do
    command -v $tool > /dev/null || { echo "run.sh: $tool is needed" >&2; exit 1; }
done
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DOCF_TESTS=ON -DOCF_BENCH=ON > /dev/null
cmake --build "$BUILD" -j"$(nproc)" --target ocf-tabled ocf-proxyd ocf-test-backend ocfctl bench_choice > /dev/null

source "$ROOT/tests/bench/lib.sh"
bench_work ocf-bench-routing
bench_ports_free $PORT_BASE $((PORT_BASE + 2 * HOSTS - 1))
cc -O2 -o "$WORK/rowcopy" "$ROOT/tests/bench/proxy/rowcopy.c" -lczmq -lzmq

proxy_port () { echo $((PORT_BASE + $1)); }
backend_port () { echo $((PORT_BASE + HOSTS + $1)); }

wait_until () {                  #  what command...
    local what=$1; shift
    for _ in $(seq 200); do "$@" > /dev/null 2>&1 && return 0; sleep 0.05; done
    echo "run.sh: $what did not come up" >&2; exit 1
}

write_config () {                #  host policy
    bench_write_config "$WORK/host-$1" $1 $(proxy_port $1) off "policy = $2" "prefix_balance = $PREFIX_BALANCE"
}

BACKEND_PIDS=()
start_backends () {
    for pid in "${BACKEND_PIDS[@]}"; do kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; done
    BACKEND_PIDS=()
    local prefill=(${PREFILL_US_PER_KIB//,/ })
    for i in $(seq 0 $((HOSTS - 1))); do
        "$BIN/ocf-test-backend" --listen 127.0.0.1:$(backend_port $i) --name b$i --model bench --tokens "$TOKENS" \
            --token-delay-ms "$TOKEN_DELAY_MS" --prefix-cache-blocks "$CACHE_BLOCKS" \
            --prefill-us-per-kib "${prefill[$((i < ${#prefill[@]} ? i : ${#prefill[@]} - 1))]}" 2>> "$WORK/backend-$i.log" &
        PIDS+=($!) BACKEND_PIDS+=($!)
    done
    for i in $(seq 0 $((HOSTS - 1))); do wait_until "backend b$i" curl -sf http://127.0.0.1:$(backend_port $i)/health; done
}

PROXYD_PIDS=()
start_proxyds () {               #  policy
    for pid in "${PROXYD_PIDS[@]}"; do kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; done
    PROXYD_PIDS=()
    for i in $(seq 0 $((HOSTS - 1))); do
        write_config $i "$1"
        "$BIN/ocf-proxyd" -c "$WORK/host-$i/ocf.conf" 2>> "$WORK/host-$i/proxyd.log" &
        PIDS+=($!) PROXYD_PIDS+=($!)
    done
    #  Every host routes to every backend (its view has every row).
    for i in $(seq 0 $((HOSTS - 1))); do
        wait_until "proxyd $i" sh -c "curl -sf http://127.0.0.1:$(proxy_port $i)/v1/models | grep -q '\"providers\": *$HOSTS\\|\"providers\":$HOSTS'"
    done
}

#  The hosts: tabled each, a service each, every row copied to every table.
for i in $(seq 0 $((HOSTS - 1))); do
    write_config $i p2c
    bench_start_tabled "$WORK/host-$i"
    "$BIN/ocfctl" -r "$WORK/host-$i/run" SERVICE.UP \
        "{\"service\": {\"name\": \"llm\", \"host\": \"127.0.0.1\", \"port\": $(backend_port $i), \"identity_group\": [\"model=bench\"]}}" > /dev/null
done
for i in $(seq 0 $((HOSTS - 1))); do
    for j in $(seq 0 $((HOSTS - 1))); do
        [ $i = $j ] || "$WORK/rowcopy" "$WORK/host-$i/run" "$WORK/host-$j/run"
    done
done

ENTRIES=$(for i in $(seq 0 $((HOSTS - 1))); do printf '127.0.0.1:%s,' $(proxy_port $i); done | sed 's/,$//')
BACKENDS=$(for i in $(seq 0 $((HOSTS - 1))); do printf 'http://127.0.0.1:%s,' $(backend_port $i); done | sed 's/,$//')
RESULTS=$WORK/results.jsonl
read -r -a POLICY_LIST <<< "$POLICIES"
for round in $(seq "$ROUNDS"); do
    for k in "${!POLICY_LIST[@]}"; do
        policy=${POLICY_LIST[$(( (k + round - 1) % ${#POLICY_LIST[@]} ))]}
        start_proxyds "$policy"
        for workload in $WORKLOADS; do
            start_backends
            python3 "$HERE/loadgen.py" --entries "$ENTRIES" --backends "$BACKENDS" --workload "$workload" \
                --clients "$CLIENTS" --duration "$DURATION" --think-ms "$THINK_MS" --tokens "$TOKENS" --seed "$round" \
                | python3 -c "import json, sys; r = json.load(sys.stdin); r['policy'] = '$policy'; r['round'] = $round; print(json.dumps(r))" >> "$RESULTS"
            echo "run.sh: round $round, $policy $workload: $(tail -1 "$RESULTS")" >&2
        done
    done
done

report () {
    echo "## Routing policies ($(date -u +%F), $(nproc) cores: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load average $(cut -d' ' -f1-3 /proc/loadavg))"
    echo
    echo "$HOSTS hosts, one ocf-test-backend each (prefix cache $CACHE_BLOCKS blocks of 256 bytes, prefill $PREFILL_US_PER_KIB µs/KiB uncached,"
    echo "one prompt at a time; $TOKENS tokens $TOKEN_DELAY_MS ms apart); $CLIENTS clients, think time $THINK_MS ms (exponential), ${DURATION} s per run;"
    echo "prefix_balance $PREFIX_BALANCE; $ROUNDS round(s): medians over the rounds (min–max where more than one)."
    echo
    python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
workloads = [w for w in ['shared', 'multiturn', 'unique'] if any(r['workload'] == w for r in rows)]
policies = list(dict.fromkeys(r['policy'] for r in rows))

def spread(values, form):
    median = form % statistics.median(values)
    return median if len(values) == 1 else '%s (%s–%s)' % (median, form % min(values), form % max(values))

def runs(workload, policy):
    return sorted((r for r in rows if r['workload'] == workload and r['policy'] == policy), key=lambda r: r['round'])

print('| workload | policy | completed/s | failed | TTFT p50 | TTFT p99 | prefix-cache hit rate | max/mean load |')
print('|---|---|---|---|---|---|---|---|')
for workload in workloads:
    for policy in policies:
        rs = runs(workload, policy)
        if rs:
            print('| %s | %s | %s | %d | %s ms | %s ms | %s %% | %s |' % (
                workload, policy, spread([r['rps'] for r in rs], '%.1f'), sum(r['failed'] for r in rs),
                spread([r['ttft_p50_ms'] for r in rs], '%.1f'), spread([r['ttft_p99_ms'] for r in rs], '%.1f'),
                spread([100 * r['hit_rate'] for r in rs], '%.1f'), spread([r['max_over_mean'] for r in rs], '%.2f')))
failures = {}
for r in rows:
    for why, count in r.get('errors', {}).items():
        where = '%s %s: %s' % (r['workload'], r['policy'], why)
        failures[where] = failures.get(where, 0) + count
if failures:
    print()
    print('Failed requests: ' + '; '.join('%s (%d)' % item for item in sorted(failures.items())) + '.')
if 'p2c' in policies:
    print()
    print('Against p2c, round by round (the median of the rounds\' ratios, then each round\'s):')
    print()
    print('| workload | policy | TTFT p50 / p2c\'s | hit rate / p2c\'s |')
    print('|---|---|---|---|')
    for workload in workloads:
        base = {r['round']: r for r in runs(workload, 'p2c')}
        for policy in policies:
            if policy == 'p2c':
                continue
            pairs = [(r, base[r['round']]) for r in runs(workload, policy) if r['round'] in base]
            if not pairs:
                continue
            ttft = [r['ttft_p50_ms'] / b['ttft_p50_ms'] for r, b in pairs]
            hits = [r['hit_rate'] / b['hit_rate'] for r, b in pairs if b['hit_rate'] > 0]
            print('| %s | %s | %.2f× (%s) | %s |' % (
                workload, policy, statistics.median(ttft), ', '.join('%.2f' % x for x in ttft),
                '%.2f× (%s)' % (statistics.median(hits), ', '.join('%.2f' % x for x in hits)) if hits else '—'))
PY
    echo
    echo "What the prefix policy adds per request (key from the body, then the choice among $HOSTS; bench_choice):"
    echo
    "$BUILD/bench/bench_choice" "$HOSTS" | sed 's/^/* /'
}
if [ -n "${OUT:-}" ]; then report | tee "$OUT"; else report; fi
