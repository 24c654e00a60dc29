#!/bin/bash
# The latency test: three hosts on one machine, each a network namespace running the four real
# daemons of the build tree, joined by a bridge; host 3's link delays every packet by 20 ms each
# way, so it is 40 ms further away from the others than they are from each other: with tc netem
# on both ends of the link where the kernel has sch_netem, otherwise with ocf-test-netdelay
# (tests/netdelay) in host 3's namespace, given its packets on eth0 both ways by iptables'
# NFQUEUE target.
#
#   10.78.0.1  host 1  seed; serves nothing; every host routes with policy = prefix
#   10.78.0.2  host 2  serves lt-model (ocf-test-backend, max_inflight 2): near
#   10.78.0.3  host 3  serves lt-model (the same): far
#   10.78.0.100        the clients (curl)
#
# Checks: 1 the round-trip times gossipd measured are in host 1's table.db (sqlite3 on the file,
# the peer_rtt view), in its /v1/dnt/table and in `ocfctl members`; 2 unique prompts through
# host 1 all go to the near host 2; 3 while host 2 is full (two slow streams in flight there,
# max_inflight 2) they spill to host 3, and come back once it is free; 4 host 2
# drained: host 3; undrained: host 2 again. Exit 1 if any check failed, 77 (skipped) without
# root, `ip netns`, or any way to delay packets (neither netem nor NFQUEUE and ocf-test-netdelay).
#
# Usage: latency_test.sh BUILD_DIR. OCF_TEST_KEEP=1 keeps the work dir.
set -u
build=$(cd "${1:?usage: latency_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bin
if [ "$(id -u)" != 0 ]; then echo "SKIP: network namespaces need root"; exit 77; fi
if ! ip netns list >/dev/null 2>&1; then echo "SKIP: 'ip netns' is not available (iproute2)"; exit 77; fi

hosts=3
serving="2 3"
model=lt-model
prefix=ocflt$$                 # namespaces ocflt<pid>-h1..h3, -c (clients), -br (bridge)
client=$prefix-c
bridge=$prefix-br
work=$(mktemp -d /tmp/ocf-latency-XXXXXX)
delay_ms=20                    # each way, on host 3's link: 40 ms more round trip
near_rtt_ms=20                 # [proxyd] near_rtt, the default
rtt_interval_ms=2000           # [gossipd] rtt_interval, the default
rtt_report_ms=5000             # OCF_RTT_REPORT_MS (gossipd/ocf_rtt.h)

. "$here/netns_lib.sh"

addr() { echo "10.78.0.$1"; }

guard_test ocflt "${OCF_LATENCY_LIMIT:-170}"

write_config() {
  local h=$1 dir=$work/h$1
  mkdir -p "$dir/state" "$dir/run"
  {
    node_config "$h" lt$h
    cat <<CONF

[proxyd]
listen = 0.0.0.0:8092
policy = prefix
CONF
    case " $serving " in *" $h "*) cat <<CONF

[service.llm]
command = $bin/ocf-test-backend --listen 127.0.0.1:18000 --name backend-lt$h --model $model --tokens 4
port = 18000
models_path = /v1/models
metrics_path = /metrics
max_inflight = 2
CONF
    esac
  } > "$dir/ocf.conf"
}

# converged: host 1 lists the three alive and hosts 2 and 3 providing llm, ready.
converged() {
  [ "$(ctl 1 LIST '{"live": true}' 2>/dev/null | jq -r '[.rows[].name] | sort | join(" ")')" = "lt1 lt2 lt3" ] &&
  [ "$(ctl 1 PROVIDERS '{"service": "llm", "ready": true}' 2>/dev/null |
       jq -r '[.providers[].name] | sort | join(" ")')" = "lt2 lt3" ]
}

# rtt_of NAME: host 1's round-trip time to it, from its table.db (empty when not there).
rtt_of() {
  sqlite3 -readonly "$work/h1/state/table.db" "select rtt_ms from peer_rtt where name = '$1'" 2>/dev/null
}
rtts_known() { [ -n "$(rtt_of lt2)" ] && [ -n "$(rtt_of lt3)" ]; }
# Host 3's time covers the added delay, and host 2 is nearer by more than near_rtt.
rtts_apart() {
  awk -v b="$(rtt_of lt2)" -v c="$(rtt_of lt3)" -v d=$((2 * delay_ms)) -v near="$near_rtt_ms" \
    'BEGIN { exit !(b != "" && c != "" && c >= d && c - b > near) }'
}

# ask OUT [HEADER]: a chat completion with a prompt no other request has (1 KiB: it has a
# prefix key) through host 1; OUT gets the node that served it (lt2, lt3, or what went wrong).
asked=0
ask() {
  asked=$((asked + 1))
  local text headers=$work/ask-$asked.headers
  text="unique prompt $asked $$ $(head -c 768 /dev/urandom | base64 -w0)"
  in_ns "$client" curl -sS --max-time 20 -D "$headers" -o /dev/null "http://$(addr 1):8092/v1/chat/completions" \
    -H 'Content-Type: application/json' ${2:+-H "$2"} \
    -d "{\"model\": \"$model\", \"messages\": [{\"role\": \"user\", \"content\": \"$text\"}]}" 2>/dev/null
  local node
  node=$(header "$headers" x-computing-node)
  case "$node" in
    "${node_id[2]}") node=lt2 ;;
    "${node_id[3]}") node=lt3 ;;
    *) node="status $(head -1 "$headers" 2>/dev/null | tr -d '\r') node '$node'" ;;
  esac
  eval "$1=\$node"
}
# all_to NAME COUNT: COUNT unique prompts in a row, each served by NAME.
all_to() {
  local i got
  for i in $(seq "$2"); do
    ask got
    [ "$got" = "$1" ] || { say "  request $i served by $got, not $1"; return 1; }
  done
}
goes_to() { local got; ask got; [ "$got" = "$1" ]; }

# ============================================================================================
say "work dir $work; namespaces $prefix-*"
ip netns add "$bridge" 2>/dev/null || { echo "SKIP: cannot create a network namespace (ip netns add)"; exit 77; }
ip netns del "$bridge"
make_network || { fail "building the network (bridge, veths, addresses)"; exit 1; }
# delay_host3: delays host 3's packets by delay_ms each way and says how in $delayer; false with
# the reason in $why when this machine cannot. netem: both ends of the link (host 3's eth0 and
# its port on the bridge). Otherwise ocf-test-netdelay holds what host 3 sends and receives on
# eth0 (iptables OUTPUT and INPUT to its NFQUEUE queue; --queue-bypass: nothing is lost while
# no program reads it).
netdelay_queue=3
delay_host3() {
  local ns
  ns=$(host_ns 3)
  if in_ns "$ns" tc qdisc add dev eth0 root netem delay "${delay_ms}ms" 2>/dev/null; then
    in_ns "$bridge" tc qdisc add dev v3 root netem delay "${delay_ms}ms" || return 1
    delayer="tc netem"; return 0
  fi
  why="no tc netem (the kernel has no sch_netem)"
  if [ ! -x "$bin/ocf-test-netdelay" ]; then
    why="$why, and no ocf-test-netdelay (not built: libnetfilter_queue is missing, see .ci/deps)"; return 1
  fi
  if ! command -v iptables >/dev/null; then why="$why, and no iptables (see .ci/deps)"; return 1; fi
  if ! { in_ns "$ns" iptables -A OUTPUT -o eth0 -j NFQUEUE --queue-num "$netdelay_queue" --queue-bypass &&
         in_ns "$ns" iptables -A INPUT -i eth0 -j NFQUEUE --queue-num "$netdelay_queue" --queue-bypass; } 2>/dev/null; then
    why="$why, and iptables refuses the NFQUEUE target (CONFIG_NETFILTER_XT_TARGET_NFQUEUE)"; return 1
  fi
  # `ip netns exec` execs it: $! is its pid, for the SIGTERM at the end (as start_daemon).
  ip netns exec "$ns" "$bin/ocf-test-netdelay" --queue "$netdelay_queue" --delay-ms "$delay_ms" \
    > "$work/h3/netdelay.log" 2>&1 < /dev/null &
  netdelay_pid=$!
  delayer="ocf-test-netdelay (NFQUEUE $netdelay_queue)"
}
netdelay_ready() { grep -q ': ready' "$work/h3/netdelay.log"; }
mkdir -p "$work/h3"
why=""
if ! delay_host3; then
  [ -z "$why" ] || { echo "SKIP: cannot delay host 3's packets: $why"; exit 77; }
  fail "delaying host 3's link with tc netem"; exit 1
fi
if [ -n "${netdelay_pid:-}" ] && ! wait_for 5000 netdelay_ready; then
  fail "ocf-test-netdelay is not ready: $(cat "$work/h3/netdelay.log")"; exit 1
fi
say "host 3's link delayed ${delay_ms} ms each way by $delayer"
for h in $(seq "$hosts"); do write_config "$h"; done
declare -a node_id

say "== 1. three hosts start; host 1 measures the round-trip times"
start_host 1
check "host 1: its four daemons are ready" wait_for 30000 host_ready 1
for h in 2 3; do start_host "$h"; done
check "hosts 2 and 3: their daemons are ready" wait_for 30000 eval 'host_ready 2 && host_ready 3'
for h in $(seq "$hosts"); do node_id[$h]=$(ctl "$h" HELLO | jq -r .id); done
check "host 1 lists the three alive and hosts 2 and 3 providing llm" wait_for 10000 converged
# gossipd pings one peer every rtt_interval (both are in its active view) and hands the times to
# tabled every OCF_RTT_REPORT_MS; one more round of each for a sample taken just before.
check "host 1's table.db has round-trip times to hosts 2 and 3 (sqlite3, peer_rtt)" \
  wait_for $((4 * rtt_interval_ms + 2 * rtt_report_ms)) rtts_known
say "  peer_rtt: $(sqlite3 -readonly "$work/h1/state/table.db" "select name || ' ' || rtt_ms || ' ms' from peer_rtt order by name" | tr '\n' ';')"
check "host 3 is at least $((2 * delay_ms)) ms away, host 2 nearer by more than near_rtt ($near_rtt_ms ms)" \
  wait_for $((4 * rtt_interval_ms + 2 * rtt_report_ms)) rtts_apart
in_ns "$client" curl -sSf --max-time 5 "http://$(addr 1):8092/v1/dnt/table" > "$work/table.json"
check "GET /v1/dnt/table on host 1: rtt_ms for hosts 2 and 3, none for itself" jq -e --arg me "${node_id[1]}" '
  [.[] | select(.id != $me) | .rtt_ms | numbers] | length == 2' "$work/table.json"
check "GET /v1/dnt/table on host 1: no rtt_ms for itself" jq -e --arg me "${node_id[1]}" \
  '.["/" + $me] | has("rtt_ms") | not' "$work/table.json"
ctl 1 members > "$work/members.txt"
ctl 1 members --json > "$work/members.json"
check "ocfctl members on host 1: an RTT column, lt3's at least $((2 * delay_ms)) ms" eval "
  head -1 '$work/members.txt' | grep -qw RTT &&
  jq -e --argjson d $((2 * delay_ms)) 'any(.[]; .name == \"lt3\" and .rtt_ms >= \$d)' '$work/members.json' >/dev/null"

say "== 2. unique prompts through host 1 go to the near host"
check "20 unique prompts through host 1: all served by host 2" all_to lt2 20

say "== 3. host 2 full: the far host takes the next, until host 2 is free"
# Two slow streamed completions (4 tokens, 3 s apart) sent to host 2 itself fill its two places;
# host 1 learns it from host 2's load report (its row, within load_report_interval and a
# gossip hop). Their headers arrive with the first token, naming the host that serves them.
slow() {
  in_ns "$client" curl -sS -N --max-time 30 -D "$work/slow-$1.headers" -o /dev/null \
    "http://$(addr 2):8092/v1/chat/completions" -H 'Content-Type: application/json' -H 'x-test-token-delay-ms: 3000' \
    -d "{\"model\": \"$model\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"slow $1\"}]}" \
    2>/dev/null
}
slow_served() { [ "$(header "$work/slow-$1.headers" x-computing-node 2>/dev/null)" = "${node_id[2]}" ]; }
slow 1 & slow_1=$!
slow 2 & slow_2=$!
check "two slow streams are in flight at host 2" wait_for 5000 eval 'slow_served 1 && slow_served 2'
check "while host 2 is full, a unique prompt through host 1 goes to host 3" wait_for 5000 goes_to lt3
check "the next unique prompts too" all_to lt3 3
wait "$slow_1" "$slow_2"
check "once host 2 is free, unique prompts go to it again" wait_for 5000 goes_to lt2
check "the next ones too" all_to lt2 5

say "== 4. host 2 drained: the far host; undrained: the near one"
in_ns "$(host_ns 2)" curl -sf -X POST http://127.0.0.1:8092/v1/admin/drain > /dev/null
check "host 2 draining: unique prompts go to host 3" wait_for 10000 goes_to lt3
check "the next ones too" all_to lt3 5
in_ns "$(host_ns 2)" curl -sf -X POST http://127.0.0.1:8092/v1/admin/undrain > /dev/null
check "host 2 undrained: unique prompts go to it again" wait_for 10000 goes_to lt2
check "the next ones too" all_to lt2 5

if [ -n "${netdelay_pid:-}" ]; then
  kill -TERM "$netdelay_pid"
  wait "$netdelay_pid"
  netdelay_status=$?
  check "ocf-test-netdelay exits 0 on SIGTERM" [ "$netdelay_status" = 0 ]
  say "  $(tail -n 1 "$work/h3/netdelay.log")"
fi
say "$passed checks passed, $failed failed"
if [ "$failed" -gt 0 ]; then show_logs; exit 1; fi
exit 0
