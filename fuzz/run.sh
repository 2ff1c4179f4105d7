#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a
# bounded time, all targets at once (one per core). `make fuzz` runs this.
#
#   fuzz/run.sh [--seconds N] [--build DIR] [TARGET...]
#
# Defaults: 60 s per target (env FUZZ_SECONDS), build dir build-fuzz (env
# FUZZ_BUILD_DIR), targets fuzz_wire_decode fuzz_task_line.
#
# Corpus: libFuzzer reads tests/fuzz/<target>/ (seeds + regression inputs,
# committed, never written) and grows DIR/corpus/<target>/ (kept between
# runs, not committed). A crash, leak, timeout or failed check stops that
# target; its input is copied to tests/fuzz/<target>/regress-<hash> so that
# `make test` replays it from then on, and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
build="${FUZZ_BUILD_DIR:-build-fuzz}"
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_wire_decode fuzz_task_line)

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DLEASEQ_FUZZ=ON
fi
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

pids=()
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
  # The build's copy, when there is one, adds the declared wire names.
  dict="fuzz/$t.dict"
  [ -f "$build/fuzz/$t.dict" ] && dict="$build/fuzz/$t.dict"
  echo "fuzz: $t for ${seconds}s (log $build/$t.log)"
  "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -dict="$dict" -artifact_prefix="$build/artifacts/$t/" -print_final_stats=1 \
    "$build/corpus/$t" "tests/fuzz/$t" >"$build/$t.log" 2>&1 &
  pids+=($!)
done

failed=0
for i in "${!targets[@]}"; do
  t="${targets[$i]}"
  rc=0
  wait "${pids[$i]}" || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/$t.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/$t.log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$build/$t.log" | tail -1 || true)
  corpus=$(find "$build/corpus/$t" -type f | wc -l)
  echo "fuzz: $t: exit $rc, ${execs:-?} executions, ${rate:-?}/s, ${cov:-cov: ?} edges, corpus $corpus"
  if [ "$rc" -ne 0 ]; then
    failed=1
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*FUZZ_CHECK)' "$build/$t.log" | head -5 || true
    for a in "$build/artifacts/$t"/*; do
      [ -f "$a" ] || continue
      dest="tests/fuzz/$t/regress-$(sha1sum "$a" | cut -c1-16)"
      cp "$a" "$dest"
      echo "fuzz: $t: kept $(basename "$a") as $dest (a regression input)"
    done
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED (see the logs above; replay with $build/fuzz/TARGET FILE)"
  exit 1
fi
echo "fuzz: no crashes"
