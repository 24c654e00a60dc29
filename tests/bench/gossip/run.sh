#!/bin/sh
# Benchmarks ocf-gossipd (with ocf-tabled) against HashiCorp serf (LAN profile) on 127.0.0.1,
# the same way, in one run: builds what it needs, then runs bench_gossip.
#   tests/bench/gossip/run.sh [--sizes 8,16,32,64] [--reps 3] [--changes 5] [--crashes 2]
#                             [--idle 15] [--systems ocf,serf] [--out DIR]
# Prints a Markdown table and writes it to DIR/results.md (default: bench-gossip/).
# Needs serf (Debian package serf) and strace. Takes about 15 minutes with the defaults.
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
command -v serf >/dev/null || { echo "run.sh: serf is not installed (Debian: apt install serf)" >&2; exit 1; }
command -v strace >/dev/null || { echo "run.sh: strace is needed to measure idle traffic" >&2; exit 1; }
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DOCF_TESTS=ON -DOCF_BENCH=ON >/dev/null
cmake --build "$build" --target ocf-tabled ocf-gossipd bench_gossip -j"$(nproc)" >/dev/null
ulimit -n 65536 2>/dev/null || true
exec "$build/bench/bench_gossip" --bin "$build/bin" "$@"
