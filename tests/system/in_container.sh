#!/bin/sh
# Runs inside the throwaway container booted by systemd_test.sh, under systemd as PID 1:
# installs the .deb and checks the units as an operator would use them. Writes its log to
# /results/log and its exit status to /results/status, then powers the container off.
set -u
exec >/results/log 2>&1
passed=0
failed=0
check() {                               # check "what" command...
  what=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $what"
  else failed=$((failed + 1)); echo "FAIL $what"; fi
}
wait_for() {                            # wait_for SECONDS command...
  limit=$1; shift
  for _ in $(seq $((limit * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
finish() {
  if [ "$failed" != 0 ]; then
    echo "--- diagnostics"
    for name in $daemons; do
      echo "--- journal of ocf-$name"
      journalctl --no-pager -o short-monotonic -u "ocf-$name.service" | grep -v "Scheduled restart\|Start request repeated" | head -25
    done
  fi
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ] && echo 0 > /results/status || echo 1 > /results/status
  systemctl poweroff --no-block
  exit 0
}
property() { systemctl show -p "$2" --value "$1"; }
active() { [ "$(property "$1" ActiveState)" = active ]; }
inactive() { [ "$(property "$1" ActiveState)" = inactive ]; }
mainpid() { property "ocf-$1.service" MainPID; }

#  The daemons this build has (a part not built yet has no binary).
daemons=""
packaged() { case "$daemons " in *" $1 "*) return 0 ;; esac; return 1; }
dpkg-deb -c /ocf-test/openfabric.deb > /tmp/package-contents
for name in tabled gossipd proxyd workerd; do
  grep -q "/usr/sbin/ocf-$name\$" /tmp/package-contents && daemons="$daemons $name"
done
echo "daemons in the package:$daemons"
#  The system bus: ocf-workerd starts its backends' units through it (polkit decides). The
#  test's target boots sysinit only; on a real host dbus runs anyway.
systemctl start dbus.service
#  An empty configuration file is a valid one-host cluster.
mkdir -p /etc/ocf
: > /etc/ocf/ocf.conf

#  Install: the package creates the user, enables and starts everything.
check "dpkg installs the package (postinst creates the user, enables and starts the units)" \
  dpkg -i --force-confold /ocf-test/openfabric.deb
check "user and group ocf exist" id ocf
check "/var/lib/ocf belongs to ocf:ocf with mode 0750" \
  test "$(stat -c '%U:%G %a' /var/lib/ocf)" = "ocf:ocf 750"
check "ocf.target is enabled" test "$(systemctl is-enabled ocf.target)" = enabled
for name in $daemons; do
  check "ocf-$name is active after install" wait_for 20 active "ocf-$name.service"
done
#  Nothing else can pass when tabled does not run: say why and stop here.
active ocf-tabled.service || finish
verify=$(systemd-analyze verify --man=no /usr/lib/systemd/system/ocf-*.service /usr/lib/systemd/system/ocf-*.socket \
  /usr/lib/systemd/system/ocf.target 2>&1)
echo "$verify"
check "the installed units pass systemd-analyze verify without a word" test -z "$verify"
for name in tabled gossipd proxyd; do
  check "ocf-$name scores 2.0 or better in systemd-analyze security" \
    systemd-analyze security --offline=yes --threshold=20 "/usr/lib/systemd/system/ocf-$name.service" >/dev/null
done
check "ocf-workerd scores 4.0 or better (it runs GPU backends)" \
  systemd-analyze security --offline=yes --threshold=40 /usr/lib/systemd/system/ocf-workerd.service >/dev/null

#  Start to ready, timed.
systemctl stop ocf.target
check "systemctl stop ocf.target stops every daemon" wait_for 30 sh -c "for n in $daemons; do systemctl is-active -q ocf-\$n.service && exit 1; done; exit 0"
started=$(date +%s%N)
check "systemctl start ocf.target returns once all report ready" systemctl start ocf.target
elapsed=$(( ($(date +%s%N) - started) / 1000000 ))
echo "time from systemctl start ocf.target to ready: $elapsed ms"
echo "$elapsed" > /results/start_ms
for name in $daemons; do
  check "ocf-$name is active (READY=1 received)" active "ocf-$name.service"
done

#  The main job: a backend run by workerd, a streamed chat completion through proxyd.
if packaged workerd && packaged proxyd; then
  cat > /etc/ocf/ocf.conf <<CONF
[node]
name = nspawn-host
[service.llm]
command = /ocf-test/ocf-test-backend --listen 127.0.0.1:18000 --model nspawn-model --tokens 5 --token-delay-ms 50
port = 18000
models_path = /v1/models
CONF
  systemctl restart ocf-workerd.service
  check "workerd runs the backend and proxyd lists its model in /v1/models" \
    wait_for 20 sh -c 'curl -sf http://127.0.0.1:8092/v1/models | grep -q nspawn-model'
  curl -sSN http://127.0.0.1:8092/v1/chat/completions -H 'Content-Type: application/json' \
    -d '{"model": "nspawn-model", "stream": true, "messages": [{"role": "user", "content": "hi"}]}' > /tmp/stream 2>&1
  check "a streamed chat completion through proxyd: 5 token events, then [DONE]" \
    sh -c '[ "$(grep -c "\"content\"" /tmp/stream)" -ge 5 ] && grep -q "data: \[DONE\]" /tmp/stream'
  grep -q "DONE" /tmp/stream || cat /tmp/stream
  check "journald has the backend's output under its own unit, ocf-backend@llm" \
    sh -c 'journalctl -u ocf-backend@llm.service -o cat --no-pager | grep -q .'

  #  Backends outlive ocf-workerd: a restart and a kill -9 under a streamed completion.
  backend=$(property ocf-backend@llm.service MainPID)
  check "the backend is the main process of ocf-backend@llm.service" test "${backend:-0}" -gt 0
  check "the backend is not in ocf-workerd.service's cgroup" sh -c "! grep -q ocf-workerd.service /proc/$backend/cgroup"
  registered() { ocfctl -t 1000 PROVIDERS '{"service": "llm"}' 2>/dev/null | grep -q '"port": 18000'; }
  watch_registration() {                # one line per look at the table, "miss" when llm was not there
    while [ -f /tmp/watching ]; do registered && echo ok || echo miss; sleep 0.05; done > /tmp/looks
  }
  for how in restart kill; do
    touch /tmp/watching; watch_registration & watcher=$!
    curl -sSN http://127.0.0.1:8092/v1/chat/completions -H 'Content-Type: application/json' \
      -H 'X-Test-Tokens: 40' -H 'X-Test-Token-Delay-Ms: 50' \
      -d '{"model": "nspawn-model", "stream": true, "messages": [{"role": "user", "content": "hi"}]}' > /tmp/stream 2>&1 &
    stream=$!
    sleep 0.5
    workerd=$(mainpid workerd)
    if [ "$how" = restart ]; then systemctl restart ocf-workerd.service; else kill -9 "$workerd"; fi
    wait_for 20 sh -c "[ \"\$(systemctl show -p MainPID --value ocf-workerd.service)\" != $workerd ] && [ \"\$(systemctl show -p ActiveState --value ocf-workerd.service)\" = active ]"
    check "$how of ocf-workerd: the new one adopted the backend" \
      wait_for 10 sh -c "journalctl -u ocf-workerd.service _PID=\$(systemctl show -p MainPID --value ocf-workerd.service) -o cat --no-pager | grep -q 'llm: adopted the running backend; it stays registered'"
    journalctl -u ocf-workerd.service -o cat --no-pager | grep "running backend adopted" | tail -1
    wait "$stream"
    sleep 1
    rm /tmp/watching; wait "$watcher"
    check "$how of ocf-workerd: the backend kept its pid" test "$(property ocf-backend@llm.service MainPID)" = "$backend"
    check "$how of ocf-workerd: the stream in flight got its 40 tokens and [DONE]" \
      sh -c '[ "$(grep -c "\"content\"" /tmp/stream)" -ge 40 ] && grep -q "data: \[DONE\]" /tmp/stream'
    check "$how of ocf-workerd: llm stayed registered ($(grep -c ok /tmp/looks) looks at the table, none missed it)" \
      sh -c '! grep -q miss /tmp/looks && grep -q ok /tmp/looks'
  done
fi

#  Socket activation: ocf-proxyd.socket holds the port while ocf-proxyd restarts.
if packaged proxyd; then
  check "ocf-proxyd.socket is active and holds 0.0.0.0:8092" \
    sh -c 'systemctl is-active -q ocf-proxyd.socket && systemctl show -p Listen --value ocf-proxyd.socket | grep -q "0.0.0.0:8092"'
  check "ocf-proxyd serves on the socket systemd passed" \
    sh -c 'journalctl -u ocf-proxyd.service -o cat --no-pager | grep -q "(the socket systemd passed)"'
  : > /tmp/codes
  for loop in 1 2 3 4; do
    ( for _ in $(seq 50); do
        curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 20 http://127.0.0.1:8092/v1/health >> /tmp/codes
        sleep 0.01
      done ) &
  done
  sleep 0.2
  systemctl restart ocf-proxyd.service
  systemctl restart ocf-proxyd.service
  wait
  check "systemctl restart ocf-proxyd (twice) under 4 request loops: 200 requests, all answered 200, none refused" \
    test "$(grep -c '^200 ' /tmp/codes)" = 200
  grep -v '^200 ' /tmp/codes | sort | uniq -c
  #  Those that came while no ocf-proxyd ran waited in the socket: the restarts were hit.
  waited=$(awk '$2 > 0.02' /tmp/codes | wc -l)
  echo "requests that waited for a restart (over 20 ms): $waited; longest $(sort -k2 -n /tmp/codes | tail -1 | cut -d' ' -f2) s"
  check "some requests came during the restarts and waited for the new ocf-proxyd" test "$waited" -gt 0
  systemctl stop ocf-proxyd.service
  check "with ocf-proxyd stopped, a request to its socket starts it and is answered" \
    sh -c 'curl -sf --max-time 20 http://127.0.0.1:8092/v1/health >/dev/null && systemctl is-active -q ocf-proxyd.service'
fi

#  A change to keep through everything that follows.
check "ocfctl registers a service with ocf-tabled over /run/ocf" \
  ocfctl SERVICE.UP '{"service": {"name": "survivor", "port": 9999, "identity_group": ["model=kept"]}}'
check "ocfctl members lists this host, alive; ocfctl services the service" \
  sh -c 'ocfctl members | grep -q "  alive  " && ocfctl services | grep -q "  survivor  "'
check "the package installs ocfctl's man page and bash completion, the Grafana dashboard, the Prometheus rules" \
  test -f /usr/share/man/man1/ocfctl.1 -a -f /usr/share/bash-completion/completions/ocfctl \
    -a -f /usr/share/openfabric/grafana/ocf.json -a -f /usr/share/openfabric/prometheus/ocf-rules.yml
table_has_survivor() {
  ocfctl -t 1000 PROVIDERS '{"service": "survivor", "ready": false}' 2>/dev/null | grep -q '"port": 9999'
}

#  kill -9 of each daemon: only that one restarts, the others keep their process.
for name in $daemons; do
  before=""
  for other in $daemons; do before="$before $other=$(mainpid "$other")"; done
  restarts=$(property "ocf-$name.service" NRestarts)
  kill -9 "$(mainpid "$name")"
  check "kill -9 ocf-$name: systemd restarts it" \
    wait_for 20 sh -c "[ \$(systemctl show -p NRestarts --value ocf-$name.service) -gt $restarts ] && [ \$(systemctl show -p ActiveState --value ocf-$name.service) = active ]"
  unchanged=yes
  for pair in $before; do
    other=${pair%%=*}
    [ "$other" = "$name" ] && continue
    [ "$(mainpid "$other")" = "${pair#*=}" ] || unchanged=no
  done
  check "kill -9 ocf-$name: the other daemons kept running (same PIDs)" test "$unchanged" = yes
  check "kill -9 ocf-$name: the table still has the registered service" wait_for 10 table_has_survivor
done

#  systemctl restart of each, and of the target.
for name in $daemons; do
  pid=$(mainpid "$name")
  check "systemctl restart ocf-$name: a new process, active" \
    sh -c "systemctl restart ocf-$name.service && [ \$(systemctl show -p MainPID --value ocf-$name.service) != $pid ]"
done
before=""
for name in $daemons; do before="$before $(mainpid "$name")"; done
backend=$(property ocf-backend@llm.service MainPID)
workerd_before=$(mainpid workerd)
check "systemctl restart ocf.target restarts every daemon" systemctl restart ocf.target
if packaged workerd && [ "${backend:-0}" != 0 ]; then
  #  A restart of the node is a stop and a start: ocf-drain.service drains the host and stops
  #  the backends, and the new ocf-workerd starts them again.
  check "systemctl restart ocf.target drains: the backend is stopped and started again (a new pid)" \
    wait_for 30 sh -c "p=\$(systemctl show -p MainPID --value ocf-backend@llm.service); [ \"\$p\" != 0 ] && [ \"\$p\" != $backend ]"
  check "systemctl restart ocf.target: the old ocf-workerd drained before it stopped" \
    sh -c "journalctl -u ocf-workerd.service _PID=$workerd_before -o cat --no-pager | grep -q 'drained'"
fi
for name in $daemons; do
  case " $before " in *" $(mainpid "$name") "*) check "ocf-$name got a new process" false ;;
                      *) check "ocf-$name got a new process" true ;; esac
done
check "the table survived the restarts" wait_for 10 table_has_survivor
table_has_survivor || { ocfctl PROVIDERS '{"service": "survivor", "ready": false}'; ocfctl LIST; journalctl --no-pager -u ocf-tabled.service | tail -20; }

#  The watchdog: a daemon that stops answering is restarted.
mkdir -p /run/systemd/system/ocf-tabled.service.d
printf '[Service]\nWatchdogSec=2s\n' > /run/systemd/system/ocf-tabled.service.d/watchdog.conf
systemctl daemon-reload
systemctl restart ocf-tabled.service
restarts=$(property ocf-tabled.service NRestarts)
kill -STOP "$(mainpid tabled)"
check "a frozen ocf-tabled (SIGSTOP) is killed by the watchdog and restarted" \
  wait_for 15 sh -c "[ \$(systemctl show -p NRestarts --value ocf-tabled.service) -gt $restarts ] && [ \$(systemctl show -p ActiveState --value ocf-tabled.service) = active ]"
rm -r /run/systemd/system/ocf-tabled.service.d
systemctl daemon-reload

#  journald: lines with priorities, from the right unit.
check "journald has ocf-tabled's lines at priority info" \
  sh -c 'journalctl -u ocf-tabled.service -p info -o cat --no-pager | grep -q "ready:"'
check "journald files errors as errors (the watchdog restart is logged)" \
  sh -c 'journalctl -u ocf-tabled.service -o cat --no-pager | grep -qi "watchdog"'

#  sqlite3 by a member of group ocf, and not by others.
useradd -M -G ocf operator1 && useradd -M stranger1
check "a member of group ocf reads the views with sqlite3 while tabled runs" \
  sh -c 'runuser -u operator1 -- sqlite3 -readonly /var/lib/ocf/table.db "select count(*) from live_nodes; select service from services; select count(*) from gpus; select count(*) from tombstones" | grep -q survivor'
check "a user outside group ocf cannot read the table" \
  sh -c '! runuser -u stranger1 -- sqlite3 -readonly /var/lib/ocf/table.db "select count(*) from nodes" 2>/dev/null'

#  Drain at stop: stopping ocf.target drains the host first (ocf-drain.service); restarting
#  one daemon does not.
if packaged workerd && packaged proxyd; then
  drains() { journalctl -u ocf-workerd.service -o cat --no-pager | grep -c "drain of every service requested"; }
  check "ocf-drain.service is active with the target" active ocf-drain.service
  check "llm is registered again after the restarts" \
    wait_for 20 sh -c 'curl -sf http://127.0.0.1:8092/v1/models | grep -q nspawn-model'
  before=$(drains)
  systemctl restart ocf-workerd.service
  check "systemctl restart ocf-workerd: no drain" test "$(drains)" = "$before"
  check "systemctl restart ocf-workerd: ocf-drain.service stays active" active ocf-drain.service
  check "llm is registered after the restart of workerd" \
    wait_for 20 sh -c 'curl -sf http://127.0.0.1:8092/v1/models | grep -q nspawn-model'
fi
cursor=$(journalctl -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p')

#  A clean stop.
check "systemctl stop ocf.target" systemctl stop ocf.target
for name in $daemons; do
  check "ocf-$name stopped cleanly (inactive, result success)" \
    wait_for 30 sh -c "[ \$(systemctl show -p ActiveState --value ocf-$name.service) = inactive ] && [ \$(systemctl show -p Result --value ocf-$name.service) = success ]"
done
 packaged workerd && check "systemctl stop ocf.target stops the backends' units too" \
  wait_for 30 sh -c "! systemctl is-active -q ocf-backend@llm.service"
check "ocf-tabled logged STOPPING and stopped" sh -c 'journalctl -u ocf-tabled.service -o cat --no-pager | grep -q "stopped"'
if packaged workerd && packaged proxyd; then
  journalctl --after-cursor "$cursor" --no-pager -o cat -u ocf-workerd.service -u ocf-drain.service > /tmp/stop-journal
  line() { grep -n "$1" /tmp/stop-journal | head -1 | cut -d: -f1; }
  drained=$(line "llm: drained in"); stopped=$(line "llm: drained, stopping its backend"); term=$(line "received Terminated")
  echo "the journal of the stop (ocf-workerd, ocf-drain):"; head -20 /tmp/stop-journal
  check "systemctl stop ocf.target: the journal shows the drain, then the backend stopped, then workerd's SIGTERM" \
    test -n "$drained" -a -n "$stopped" -a -n "$term" -a "${drained:-0}" -lt "${stopped:-0}" -a "${stopped:-0}" -lt "${term:-0}"
  check "ocf-drain.service stopped cleanly" \
    sh -c '[ "$(systemctl show -p ActiveState --value ocf-drain.service)" = inactive ] && [ "$(systemctl show -p Result --value ocf-drain.service)" = success ]'
fi
finish
