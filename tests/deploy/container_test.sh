#!/usr/bin/env bash
# deploy.container: the runtime stage of deploy/container/Containerfile,
# where no container engine can build it (no registry for debian:12 here):
# a minimal Debian 12 made with debootstrap from Debian's mirror (cached in
# the build directory), the .deb from `cpack` copied in as the COPY does,
# the stage's RUN, WORKDIR, ENV and USER lines carried out in a chroot, and
# then the preemption demo as that user, from the installed /usr/bin.
# Stage 1 (the build) is not run: it is the project's own build and cpack
# (deploy.deb covers the package). Needs root, unshare, debootstrap.
#   container_test.sh SOURCE_DIR BUILD_DIR     (about 1 min, 2 the first time)
set -euo pipefail
src=$1 build=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: not root (chroot, mounts)"; exit 77; }
command -v debootstrap > /dev/null || { echo "SKIP: no debootstrap (make container-test installs it)"; exit 77; }
unshare -m true 2> /dev/null || { echo "SKIP: cannot make a mount namespace"; exit 77; }
tmp=$(mktemp -d /tmp/leaseq-container-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

base=$build/tests/deploy/debian12-rootfs
if [ ! -x "$base/usr/bin/apt-get" ]; then
  rm -rf "$base"
  debootstrap --variant=minbase bookworm "$base" http://deb.debian.org/debian > "$tmp/debootstrap.log" 2>&1 ||
    { tail -5 "$tmp/debootstrap.log"; echo "SKIP: debootstrap failed (Debian mirror unreachable?)"; exit 77; }
fi
root=$tmp/root
cp -a "$base" "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf"

(cd "$build" && cpack -G DEB -B "$tmp/out" > "$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; fail "cpack"; }

# The runtime stage: everything after the last FROM, continuation lines
# joined, as a shell script for the chroot.
python3 - "$src/deploy/container/Containerfile" "$tmp/out" "$root" > "$root/stage.sh" <<'PY'
import glob, os, re, shutil, sys
containerfile, out, root = sys.argv[1:4]
text = re.sub(r"\\\n", " ", open(containerfile).read())
lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
last_from = max(i for i, l in enumerate(lines) if l.startswith("FROM "))
print("set -e")
user = None
for l in lines[last_from + 1:]:
    op, _, arg = l.partition(" ")
    if op == "COPY":
        m = re.match(r"--from=build /out/(\S+) (\S+)$", arg)
        assert m, "unexpected COPY: " + l
        for f in glob.glob(os.path.join(out, m.group(1))):
            shutil.copy(f, root + m.group(2))
    elif op == "RUN":
        print("export DEBIAN_FRONTEND=noninteractive")
        print(arg)
    elif op == "USER":
        user = arg.split(":")
    elif op == "WORKDIR":
        print("mkdir -p %s && cd %s" % (arg, arg))
    elif op == "ENV":
        print("export " + arg)
    elif op in ("VOLUME", "EXPOSE", "CMD"):
        pass  # nothing to do outside an engine
    else:
        raise SystemExit("unhandled instruction: " + l)
assert user, "the image must set USER"
run_as = "setpriv --reuid %s --regid %s --clear-groups" % (user[0], user[1] if len(user) > 1 else user[0])
print("echo \"runtime packages: $(dpkg-query -W -f='${Package} ' leaseq libzmq5 libsqlite3-0 sqlite3)\"")
print("%s sh -c 'echo \"running as $(id -u):$(id -g)\"'" % run_as)
print("%s bash /tmp/run.sh --bin /usr/bin --kill-every 0.5" % run_as)
PY
cp "$src/examples/preemption/run.sh" "$root/tmp/run.sh"
unshare -m sh -c "mount -t proc proc '$root/proc' && chroot '$root' bash /stage.sh" > "$tmp/stage.log" 2>&1 ||
  { tail -30 "$tmp/stage.log"; fail "the runtime stage failed"; }
grep -e "^runtime packages" -e "^running as" -e "on cluster" -e "^workers preempted" "$tmp/stage.log"
grep -q "on cluster: 159600" "$tmp/stage.log" || fail "the demo did not run in the runtime stage"
grep -q "running as 10001:10001" "$tmp/stage.log" || fail "not run as uid 10001"
echo "deploy.container: ok (runtime stage in a Debian 12 chroot; no container engine)"
