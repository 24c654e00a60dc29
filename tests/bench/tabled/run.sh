#!/bin/sh
# Benchmarks ocf-tabled (see bench_tabled.c). Usage: tests/bench/tabled/run.sh [BUILD_DIR]
# MERGES_ONLY=1: the anchors and the merges only. BASELINE_TABLED=/path/to/ocf-tabled: the
# merges on that build's tabled too, taking turns with this one's in the same run.
set -e
cd "$(dirname "$0")/../../.."
build=${1:-build-bench}
cmake -B "$build" -DCMAKE_BUILD_TYPE=Release -DOCF_TESTS=ON -DOCF_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target ocf-tabled bench_tabled >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$build/bench/bench_tabled"
