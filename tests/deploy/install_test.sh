#!/usr/bin/env bash
# deploy.install: `cmake --install` into a scratch prefix, then from there
# the preemption demo (examples/preemption/run.sh --bin PREFIX/bin), a man
# page, and an outside CMake project built against the installed package
# (find_package(leaseq), leaseq::worker) whose worker does a round trip with
# the installed broker and clients.
#   install_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d /tmp/leaseq-install-test-XXXXXX)
prefix=$tmp/prefix
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" > "$tmp/install.log"
for f in bin/leaseq-broker bin/leaseq-worker bin/leaseq-submit bin/leaseq-ctl \
         bin/leaseq-example-worker include/leaseq/worker.h include/leaseq/function.h \
         lib/libleaseq_worker.a lib/cmake/leaseq/leaseqConfig.cmake \
         lib/cmake/leaseq/leaseqConfigVersion.cmake share/man/man1/leaseq-broker.1 \
         share/man/man1/leaseq-ctl.1 lib/systemd/system/leaseq-broker.service \
         "lib/systemd/system/leaseq-worker@.service" share/doc/leaseq/examples/systemd/leaseq.env \
         share/doc/leaseq/deploy.md; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
grep -q "^ExecStart=$prefix/bin/leaseq-broker " "$prefix/lib/systemd/system/leaseq-broker.service" ||
  fail "the installed broker unit does not start $prefix/bin/leaseq-broker"
# The man page renders, and says what the broker's --help says.
man -l -P cat "$prefix/share/man/man1/leaseq-broker.1" 2>/dev/null | grep -q -- "--curve-allow" ||
  fail "leaseq-broker.1 lacks --curve-allow"
echo "installed into $prefix: $(find "$prefix" -type f | wc -l) files"

# The demo, from the installed binaries only.
"$src/examples/preemption/run.sh" --bin "$prefix/bin" | tee "$tmp/demo.out"
grep -q "on cluster: 159600" "$tmp/demo.out" || fail "the demo's sum is wrong"

# An outside project: README's custom worker, against the installed package.
mkdir -p "$tmp/outside"
cat > "$tmp/outside/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(outside_worker LANGUAGES CXX)
find_package(leaseq REQUIRED)
add_executable(my-worker main.cc)
target_link_libraries(my-worker PRIVATE leaseq::worker)
CMAKE
cat > "$tmp/outside/main.cc" <<'CXX'
#include <leaseq/worker.h>

#include <cctype>
#include <string>
#include <string_view>

int main(int argc, char** argv) {
  leaseq::Worker w;
  w.Register("upper", [](std::string_view in, std::string* out) {
    for (unsigned char c : in) out->push_back(static_cast<char>(std::toupper(c)));
    return leaseq::FnStatus::Ok();
  });
  return w.Run(argc, argv);
}
CXX
cmake -S "$tmp/outside" -B "$tmp/outside/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release > "$tmp/outside.log" 2>&1 || { cat "$tmp/outside.log"; fail "configure"; }
cmake --build "$tmp/outside/build" >> "$tmp/outside.log" 2>&1 || { cat "$tmp/outside.log"; fail "build"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export LEASEQ_BROKER=tcp://127.0.0.1:$port
"$prefix/bin/leaseq-broker" --db "$tmp/round.db" 2> "$tmp/broker.log" &
pids+=($!)
"$tmp/outside/build/my-worker" --name outside 2> "$tmp/worker.log" &
pids+=($!)
"$prefix/bin/leaseq-submit" --key up --fn upper --input 'installed package' --wait > /dev/null ||
  { cat "$tmp/broker.log" "$tmp/worker.log"; fail "the outside worker's task did not finish"; }
[ "$("$prefix/bin/leaseq-ctl" result up)" = "INSTALLED PACKAGE" ] || fail "wrong result from the outside worker"
echo "outside project: find_package(leaseq) + leaseq::worker built and ran a task"
echo "deploy.install: ok"
