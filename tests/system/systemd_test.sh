#!/bin/sh
# The real-systemd test. Builds the .deb, boots a throwaway container (systemd-nspawn on a
# volatile overlay of this host's root, so nothing it does lasts), installs the package there
# with dpkg, and runs tests/system/in_container.sh as a service under systemd 252 as PID 1.
# Usage: systemd_test.sh BUILD_DIR. Exit 77 (skipped) only where nspawn cannot run.
set -eu
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then echo "SKIP: systemd-nspawn needs root"; exit 77; fi
if ! command -v systemd-nspawn >/dev/null; then echo "SKIP: systemd-nspawn is missing (apt-get install systemd-container)"; exit 77; fi

work=$(mktemp -d /tmp/ocf-systemd-XXXXXX)
machine=ocftest$$
cleanup() {
  umount "$work/root" 2>/dev/null || true
  rm -rf "/run/systemd/nspawn/propagate/$machine"
  [ -n "${OCF_TEST_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/root" "$work/results" "$work/stage"
(cd "$build" && cpack -G DEB >/dev/null)
cp "$build"/openfabric_*.deb "$work/stage/openfabric.deb"
cp "$here/in_container.sh" "$build/bin/ocf-test-backend" "$work/stage/"
cat > "$work/ocf-systemd-test.service" <<UNIT
[Unit]
Description=OpenFabric systemd test driver
After=sysinit.target
[Service]
Type=oneshot
ExecStart=/bin/sh /ocf-test/in_container.sh
StandardOutput=journal+console
StandardError=journal+console
UNIT
# The test's own target: sysinit and the driver, not multi-user (the host's own services
# would start in the container otherwise).
cat > "$work/ocf-systemd-test.target" <<UNIT
[Unit]
Description=OpenFabric systemd test
Requires=sysinit.target ocf-systemd-test.service
After=sysinit.target
AllowIsolate=yes
UNIT
echo 1 > "$work/results/status"
timeout "${OCF_SYSTEMD_TEST_TIMEOUT:-600}" unshare -m --propagation private sh -c "
  mount --bind / '$work/root' &&
  exec systemd-nspawn -D '$work/root' --volatile=overlay --register=no --keep-unit --link-journal=no \
    --private-network -M '$machine' --console=pipe \
    --bind-ro='$work/stage:/ocf-test' --bind='$work/results:/results' \
    --bind-ro='$work/ocf-systemd-test.service:/etc/systemd/system/ocf-systemd-test.service' \
    --bind-ro='$work/ocf-systemd-test.target:/etc/systemd/system/ocf-systemd-test.target' \
    -b -- systemd.unit=ocf-systemd-test.target systemd.firstboot=off" >"$work/console.log" 2>&1 || true
cat "$work/results/log" 2>/dev/null || { echo "no results: the container's console said:"; tail -40 "$work/console.log"; }
exit "$(cat "$work/results/status")"
