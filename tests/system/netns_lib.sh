# Shared by the network-namespace tests (multihost_test.sh, latency_test.sh): checks, waiting,
# namespaces, the bridged network, starting a daemon of the build tree in a host's namespace,
# logs, cleanup and the time limit (guard_test).
# The sourcing script defines: bin (the build's bin/), work (its work dir, hN/ per host), prefix
# (its namespaces' names start with "$prefix-"),
# hosts (how many), client and bridge (namespace names), addr N (a host's address; addr 100 is
# the clients'), serving (the hosts whose workerd runs a backend for the service llm,
# space-separated).

now_ms() { date +%s%3N; }
say() { printf '%s  %s\n' "$(date +%T.%3N)" "$*"; }

passed=0 failed=0
ok() { passed=$((passed + 1)); say "ok    $*"; }
fail() { failed=$((failed + 1)); say "FAIL  $*"; }
check() {    # check NAME COMMAND...: ok when COMMAND succeeds
  local name=$1; shift
  if "$@"; then ok "$name"; else fail "$name"; fi
}

# wait_for MS COMMAND...: runs COMMAND every 100 ms until it succeeds (true, and $waited_ms is
# how long it took) or MS have passed (false).
waited_ms=0
wait_for() {
  local limit=$1 start; shift
  start=$(now_ms)
  while :; do
    if "$@"; then waited_ms=$(( $(now_ms) - start )); return 0; fi
    [ "$(now_ms)" -lt $((start + limit)) ] || { waited_ms=$(( $(now_ms) - start )); return 1; }
    sleep 0.1
  done
}

host_ns() { echo "$prefix-h$1"; }    # host N's namespace
ctl() { local h=$1; shift; "$bin/ocfctl" -r "$work/h$h/run" -t 3000 "$@"; }    # ctl HOST ARGS...: ocfctl there
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

kill_namespace() {     # every process in the namespace (all of them ours), then the namespace
  local pids
  pids=$(ip netns pids "$1" 2>/dev/null)
  [ -z "$pids" ] || kill -9 $pids 2>/dev/null
  ip netns del "$1" 2>/dev/null
}

# --------------------------------------------------------------------------------------------
# The network: a bridge in its own namespace, one veth per host (eth0 inside, vN in the bridge)

make_network() {
  ip netns add "$bridge" || return 1
  in_ns "$bridge" ip link set lo up
  in_ns "$bridge" ip link add br0 type bridge
  in_ns "$bridge" ip link set br0 up
  local i ns
  for i in $(seq "$hosts") 100; do
    ns=$([ "$i" = 100 ] && echo "$client" || host_ns "$i")
    ip netns add "$ns" || return 1
    # Created inside the bridge's namespace, the peer straight into the host's.
    in_ns "$bridge" ip link add "v$i" type veth peer name eth0 netns "$ns" || return 1
    in_ns "$bridge" ip link set "v$i" master br0 up
    in_ns "$ns" ip link set lo up
    in_ns "$ns" ip addr add "$(addr "$i")/24" dev eth0
    in_ns "$ns" ip link set eth0 up
  done
}

start_daemon() {    # start_daemon HOST DAEMON
  local dir=$work/h$1
  echo "===== $(date +%T.%3N) started by the test" >> "$dir/$2.log"
  # `ip netns exec` execs the daemon: $! is the daemon's pid (a shell function would fork).
  ip netns exec "$(host_ns "$1")" "$bin/ocf-$2" -c "$dir/ocf.conf" >> "$dir/$2.log" 2>&1 < /dev/null &
  echo $! > "$dir/$2.pid"
}

exited() {     # a process that is gone, or a zombie (our child: `wait` has not reaped it yet)
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
  [ -z "$state" ] || [ "$state" = Z ]
}

header() { tr -d '\r' < "$1" | awk -v h="$2" 'tolower($0) ~ "^" tolower(h) ":" { sub(/^[^:]*: */, ""); print }'; }

# --------------------------------------------------------------------------------------------
# Hosts: the four daemons of each

daemons="tabled gossipd proxyd workerd"

serves() { case " $serving " in *" $1 "*) return 0;; esac; return 1; }

# Whether HOST's tabled lists its own llm service as ready (workerd registered the backend).
registered() {
  ctl "$1" PROVIDERS '{"service": "llm", "ready": true}' 2>/dev/null | jq -e 'any(.providers[]; .self)' >/dev/null
}

# Ready: answering on its local API and saying so; workerd also has registered its backend.
daemon_ready() {     # daemon_ready HOST DAEMON
  case $2 in
    tabled) "$bin/ocfctl" -r "$work/h$1/run" -t 1000 HELLO >/dev/null 2>&1 ;;
    workerd) "$bin/ocfctl" -r "$work/h$1/run" -t 1000 -d workerd HELLO >/dev/null 2>&1 &&
             { ! serves "$1" || registered "$1"; } ;;
    *) "$bin/ocfctl" -r "$work/h$1/run" -t 1000 -d "$2" HELLO 2>/dev/null | jq -e .ready >/dev/null ;;
  esac
}

# start_host HOST: its four daemons at once, as systemd starts ocf.target.
start_host() { local d; for d in $daemons; do start_daemon "$1" "$d"; done; }
host_ready() { local d; for d in $daemons; do daemon_ready "$1" "$d" || return 1; done; }

# node_config H NAME: the [node] section of host H's configuration and the start of its
# [gossipd] (host 1 is the seed); the test's own [gossipd] keys may follow.
node_config() {
  local h=$1 dir=$work/h$1
  cat <<CONF
[node]
name = $2
state_dir = $dir/state
run_dir = $dir/run
public_addr = $(addr "$h")

[gossipd]
bind = 0.0.0.0:7946
$([ "$h" = 1 ] || echo "seeds = $(addr 1):7946")
CONF
}

# --------------------------------------------------------------------------------------------
# Logs, cleanup and the test's own time limit

show_logs() {
  local log
  for log in "$work"/h*/*.log "$work"/*.log; do
    [ -s "$log" ] || continue
    echo "----- tail of ${log#"$work"/}"
    tail -n 15 "$log"
  done
}
cleanup() {
  trap - EXIT INT TERM
  [ -z "${watchdog:-}" ] || { pkill -P "$watchdog" sleep; kill "$watchdog"; } 2>/dev/null
  {   # (quietly: the shell reports each job it reaps as killed)
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix-"); do kill_namespace "$ns"; done
    wait
  } 2>/dev/null
  if [ "$failed" -gt 0 ] || [ -n "${OCF_TEST_KEEP:-}" ]; then
    say "logs and configuration kept in $work"
  else
    rm -rf "$work"
  fi
}

# guard_test STEM LIMIT_S: the test's namespaces are named STEM<its pid>-*. Cleans up on exit
# (the work dir kept when a check failed or OCF_TEST_KEEP is set); removes the namespaces of
# earlier runs killed with SIGKILL, which could not clean up; and ends the test after LIMIT_S
# seconds, below ctest's TIMEOUT, so that the trap still cleans up and shows the logs. The
# limit's sleep writes nowhere, so that nobody reading the test's output (ctest, a pipe)
# waits for it.
guard_test() {
  local stem=$1 limit=$2 ns owner
  trap cleanup EXIT
  trap 'fail "interrupted (signal or the test'"'"'s own time limit)"; show_logs; exit 1' INT TERM
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$stem[0-9]*-"); do
    owner=${ns#"$stem"}; owner=${owner%%-*}
    kill -0 "$owner" 2>/dev/null || kill_namespace "$ns"
  done
  ( sleep "$limit" && kill -TERM $$ ) < /dev/null > /dev/null 2>&1 &
  watchdog=$!
}
