#!/bin/sh
# Benchmarks ocf-gossipd (with ocf-tabled) against HashiCorp serf (LAN profile) on 127.0.0.1,
# the same way, in one run: builds what it needs, then runs bench_gossip.
#   tests/bench/gossip/run.sh [--sizes 8,16,32,64] [--reps 3] [--changes 5] [--crashes 2]
#                             [--idle 15] [--systems ocf,serf] [--out DIR]
# Prints a Markdown table and writes it to DIR/results.md (default: bench-gossip/).
# Needs serf (Debian package serf) and strace. Takes about 15 minutes with the defaults.
#   PARTITION=1 tests/bench/gossip/run.sh --sizes 64,256 [--reps 1] [--systems ocf,serf]
# instead cuts a cluster in two halves and heals it, ours then serf's (bench_gossip --partition): as root,
# it makes two network namespaces joined by a veth pair (ocfbench-a 10.213.0.1, ocfbench-b
# 10.213.0.2), each half in one, and deletes them (and their iptables rules) on exit.
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
partition=${PARTITION:-0}
case " $* " in *" --systems ocf "*) ;; *)
  command -v serf >/dev/null || { echo "run.sh: serf is not installed (Debian: apt install serf)" >&2; exit 1; };;
esac
command -v strace >/dev/null || { echo "run.sh: strace is needed to measure idle traffic" >&2; exit 1; }
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DOCF_TESTS=ON -DOCF_BENCH=ON >/dev/null
cmake --build "$build" --target ocf-tabled ocf-gossipd bench_gossip -j"$(nproc)" >/dev/null
ulimit -n 65536 2>/dev/null || true
[ "$partition" = 1 ] || exec "$build/bench/bench_gossip" --bin "$build/bin" "$@"

command -v iptables >/dev/null || { echo "run.sh: PARTITION=1 needs iptables" >&2; exit 1; }
cleanup() {
  for ns in ocfbench-a ocfbench-b; do
    # Whatever the bench left running in the namespace (it stops its nodes by pid itself).
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup
ip netns add ocfbench-a
ip netns add ocfbench-b
ip -n ocfbench-a link add eth0 type veth peer name eth0 netns ocfbench-b
for side in a:1 b:2; do
  ns=ocfbench-${side%:*}
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "10.213.0.${side#*:}/24" dev eth0
  ip -n "$ns" link set eth0 up
done
"$build/bench/bench_gossip" --bin "$build/bin" --partition ocfbench-a=10.213.0.1,ocfbench-b=10.213.0.2 "$@"
