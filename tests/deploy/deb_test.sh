#!/usr/bin/env bash
# deploy.deb: `cpack -G DEB`, then the package's control data (Depends names
# the Debian runtime libraries) and contents (binaries, units, man pages,
# headers, CMake package); as root, dpkg -i, leaseq-broker --version from
# /usr/bin, dpkg -r. Skips the install (not the rest) when not root, or when
# a package named leaseq is installed already (someone else's: left alone).
#   deb_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
build=$2
tmp=$(mktemp -d /tmp/leaseq-deb-test-XXXXXX)
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then dpkg -r leaseq > /dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v dpkg-deb > /dev/null || { echo "SKIP: no dpkg-deb (not a Debian system)"; exit 77; }

(cd "$build" && cpack -G DEB -B "$tmp" > "$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; fail "cpack"; }
deb=$(ls "$tmp"/leaseq_*.deb)
echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

dpkg-deb --info "$deb" > "$tmp/info"
depends=$(sed -n 's/^ Depends: //p' "$tmp/info")
echo "Depends: $depends"
for lib in libzmq5 libsqlite3-0 libstdc++6 libc6; do
  grep -q "\b$lib\b" <<< "$depends" || fail "Depends lacks $lib"
done
grep -q -- "-dev" <<< "$depends" && fail "Depends names a -dev package"

dpkg-deb --contents "$deb" | awk '{print $NF}' > "$tmp/contents"
for f in ./usr/bin/leaseq-broker ./usr/bin/leaseq-worker ./usr/bin/leaseq-submit \
         ./usr/bin/leaseq-ctl ./usr/bin/leaseq-example-worker \
         ./usr/lib/systemd/system/leaseq-broker.service "./usr/lib/systemd/system/leaseq-worker@.service" \
         ./usr/share/man/man1/leaseq-broker.1 ./usr/include/leaseq/worker.h \
         ./usr/lib/libleaseq_worker.a ./usr/lib/cmake/leaseq/leaseqConfig.cmake \
         ./usr/share/doc/leaseq/examples/systemd/leaseq.env; do
  grep -qxF "$f" "$tmp/contents" || fail "not in the package: $f"
done
dpkg-deb -x "$deb" "$tmp/root"
grep -q '^ExecStart=/usr/bin/leaseq-broker ' "$tmp/root/usr/lib/systemd/system/leaseq-broker.service" ||
  fail "the packaged unit does not start /usr/bin/leaseq-broker"
echo "contents: $(wc -l < "$tmp/contents") entries, binaries, units, man pages, headers, CMake package"

if [ "$(id -u)" != 0 ]; then echo "SKIP (install part): not root, dpkg -i not tried"; exit 0; fi
if dpkg-query -W -f='${Status}' leaseq 2>/dev/null | grep -q "ok installed"; then
  echo "SKIP (install part): a leaseq package is installed already; not replacing it"; exit 0
fi
dpkg -i "$deb" > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -i"; }
installed=1
# --version where the binaries have it, else --help (both exit 0).
if out=$(/usr/bin/leaseq-broker --version 2>&1); then
  echo "/usr/bin/leaseq-broker --version: $out"
else
  out=$(/usr/bin/leaseq-broker --help) || fail "/usr/bin/leaseq-broker runs neither --version nor --help"
  echo "/usr/bin/leaseq-broker has no --version yet; --help: $(head -1 <<< "$out")"
fi
/usr/bin/leaseq-ctl --help > /dev/null || fail "/usr/bin/leaseq-ctl --help"
dpkg -r leaseq > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -r"; }
installed=0
[ ! -e /usr/bin/leaseq-broker ] || fail "/usr/bin/leaseq-broker left after dpkg -r"
echo "dpkg -i, run from /usr/bin, dpkg -r: ok"
echo "deploy.deb: ok"
