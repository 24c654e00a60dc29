#  Shared by the benchmarks' run.sh (sourced): the work folder and its cleanup, the port check,
#  a host's config and its ocf-tabled. Expects BIN (the built binaries) and set -euo pipefail.

#  WORK: a fresh folder, removed at exit unless KEEP is set; every pid in PIDS is stopped then.
bench_work () {                  #  name
    WORK=$(mktemp -d "/tmp/$1-XXXXXX")
    PIDS=()
    trap bench_cleanup EXIT
}
bench_cleanup () {
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}

#  Fails early rather than measuring whatever else listens there.
bench_ports_free () {            #  first last
    for port in $(seq "$1" "$2"); do
        if (exec 3<> /dev/tcp/127.0.0.1/$port) 2> /dev/null; then echo "run.sh: port $port is in use (set PORT_BASE)" >&2; exit 1; fi
    done
}

#  dir/ocf.conf for host bench-NAME, its proxyd on 127.0.0.1:port; further [proxyd] lines follow.
bench_write_config () {          #  dir name port fabric_listen [proxyd line...]
    local dir=$1 name=$2 port=$3 fabric=$4
    shift 4
    mkdir -p "$dir"
    cat > "$dir/ocf.conf" <<CONF
[node]
name = bench-$name
state_dir = $dir/state
run_dir = $dir/run
public_addr = 127.0.0.1
log_level = warning
[proxyd]
listen = 127.0.0.1:$port
fabric_listen = $fabric
CONF
    local line
    for line in "$@"; do echo "$line" >> "$dir/ocf.conf"; done
}

bench_start_tabled () {          #  dir (its ocf.conf written): returns once it answers
    "$BIN/ocf-tabled" -c "$1/ocf.conf" 2>> "$1/tabled.log" &
    PIDS+=($!)
    for _ in $(seq 200); do "$BIN/ocfctl" -r "$1/run" -t 200 HELLO > /dev/null 2>&1 && return 0; sleep 0.05; done
    echo "run.sh: tabled in $1 did not come up" >&2; exit 1
}
