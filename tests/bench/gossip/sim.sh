#!/bin/sh
# Runs bench_gossip_sim (simulated time, deterministic) on this tree and on a baseline
# revision, one after the other, so that the figures with and without a change come from one
# run of one harness:
#   tests/bench/gossip/sim.sh [--base REV (default: main)] [bench_gossip_sim options...]
# The baseline is exported with git archive and built with this tree's bench source and
# simulated network (tests/gossipd/sim.c, sim.h: sockets and clock, no protocol logic), so
# that only the protocol core (gossipd/) and the table code differ (a baseline older than
# ocf_gossip_flush keeps its own tests/gossipd/sim.c, which delivers the same way).
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
base=main
if [ "${1:-}" = "--base" ]; then base=$2; shift 2; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$root" archive "$base" | tar -x -C "$work"
cp "$root/tests/bench/gossip/bench_gossip_sim.c" "$root/tests/bench/gossip/CMakeLists.txt" "$work/tests/bench/gossip/"
# A core from before ocf_gossip_flush (its rumours were never held) keeps its own simulator.
if grep -q ocf_gossip_flush "$work/gossipd/ocf_gossip.h"; then
    cp "$root/tests/gossipd/sim.c" "$root/tests/gossipd/sim.h" "$work/tests/gossipd/"
fi
for tree in "$work" "$root"; do
    cmake -S "$tree" -B "$tree/build-sim" -DCMAKE_BUILD_TYPE=Release -DOCF_TESTS=ON -DOCF_BENCH=ON >/dev/null
    cmake --build "$tree/build-sim" --target bench_gossip_sim -j"$(nproc)" >/dev/null
done
echo "baseline ($base, $(git -C "$root" rev-parse --short "$base")):"
"$work/build-sim/bench/bench_gossip_sim" "$@"
echo
echo "this tree ($(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD || echo ', with changes')):"
"$root/build-sim/bench/bench_gossip_sim" "$@"
