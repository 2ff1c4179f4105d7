#!/usr/bin/env bash
# deploy.systemd: the units as installed (cmake --install into a scratch
# prefix, so ExecStart points at real binaries), with and without the CURVE
# drop-ins, pass `systemd-analyze verify` (which also checks the man pages
# they name); and the broker, started with $NOTIFY_SOCKET naming a socket
# this test binds, sends READY=1 and accepts a request right after it.
# Where systemd is PID 1 it also runs the broker as a transient Type=notify
# unit (systemd-run); elsewhere (a container) it says it did not.
#   systemd_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
command -v systemd-analyze > /dev/null || { echo "SKIP: no systemd-analyze (Debian: systemd)"; exit 77; }
tmp=$(mktemp -d /tmp/leaseq-systemd-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" > /dev/null

# verify: the broker, an instance of the worker template, then with drop-ins.
units=$tmp/units
mkdir -p "$units"
cp "$prefix/lib/systemd/system/leaseq-broker.service" "$units/"
cp "$prefix/lib/systemd/system/leaseq-worker@.service" "$units/leaseq-worker@test.service"
verify() {
  if ! MANPATH="$prefix/share/man" systemd-analyze verify "$units/leaseq-broker.service" \
        "$units/leaseq-worker@test.service" > "$tmp/verify.log" 2>&1; then
    cat "$tmp/verify.log"; fail "systemd-analyze verify ($1)"
  fi
  # verify exits 0 on some warnings: none is expected.
  if [ -s "$tmp/verify.log" ]; then cat "$tmp/verify.log"; fail "systemd-analyze verify warned ($1)"; fi
  echo "systemd-analyze verify ($1): clean"
}
verify "units"
mkdir -p "$units/leaseq-broker.service.d" "$units/leaseq-worker@test.service.d"
cp "$src/deploy/systemd/curve-broker.conf" "$units/leaseq-broker.service.d/curve.conf"
cp "$src/deploy/systemd/curve-worker.conf" "$units/leaseq-worker@test.service.d/curve.conf"
verify "with the CURVE drop-ins"

# READY=1 from the broker, and a request answered right after it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$prefix/bin" "$tmp" "$port" <<'PY' || fail "readiness"
import os, socket, subprocess, sys
bindir, tmp, port = sys.argv[1:4]
name = "@leaseq-systemd-test-%d" % os.getpid()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + name[1:])
s.settimeout(10)
env = dict(os.environ, NOTIFY_SOCKET=name)
ep = "tcp://127.0.0.1:" + port
broker = subprocess.Popen([bindir + "/leaseq-broker", "--db", tmp + "/notify.db", "--bind", ep],
                          env=env, stderr=open(tmp + "/broker.log", "w"))
try:
    msg = s.recv(4096).decode()
    assert msg.split("\n")[0] == "READY=1", msg
    # One try, short: ready means it answers now.
    r = subprocess.run([bindir + "/leaseq-ctl", "--broker", ep, "--timeout-ms", "1000", "status"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    print("broker sent %r and answered leaseq-ctl status" % msg)
finally:
    broker.terminate()
    broker.wait()
PY

if [ -d /run/systemd/system ] && command -v systemd-run > /dev/null; then
  unit=leaseq-test-broker-$$
  systemd-run --unit "$unit" -p Type=notify -p DynamicUser=yes -p StateDirectory="$unit" \
    "$prefix/bin/leaseq-broker" --db "/var/lib/$unit/leaseq.db" --bind "tcp://127.0.0.1:$port" ||
    fail "systemd-run"
  systemctl is-active --quiet "$unit" || fail "the transient unit is not active"
  "$prefix/bin/leaseq-ctl" --broker "tcp://127.0.0.1:$port" status > /dev/null || fail "status via systemd"
  systemctl stop "$unit"
  echo "systemd-run: the broker ran as a Type=notify unit"
else
  echo "NOT RUN: systemd is not PID 1 here ($(ps -o comm= -p 1)); the units were verified, not started"
fi
echo "deploy.systemd: ok"
