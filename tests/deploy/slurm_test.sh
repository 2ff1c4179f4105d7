#!/usr/bin/env bash
# slurm.preemption: leaseq workers as Slurm jobs on a real one-node cluster
# (slurm_cluster.sh), preempted for real. A broker (outside Slurm, as on a
# stable host) gets 200 two-second tasks (so the
# work outlasts the rounds: Slurm takes about a minute per round here); two workers run as jobs of
# deploy/slurm/leaseq-worker.sbatch in the preemptible `spot` partition;
# ROUNDS times an `urgent` job takes one CPU or both, Slurm sends the spot
# job(s) SIGTERM and requeues them, and the test waits until each preempted
# job's new incarnation (slurm-<job>.<restart>) has registered again. Checks:
# every task done, by exactly one done attempt; no suspicion, no lost or
# failed attempt; every preempted incarnation said goodbye (gone, not lost);
# every requeued job rejoined. Prints the figures (docs/deploy.md).
# Runs in its own network namespace where it can (slurmctld binds every
# address), so nothing listens beyond this test's loopback.
#   slurm_test.sh SOURCE_DIR BUILD_DIR      (about 5 minutes)
set -euo pipefail
src=$1 build=$2
ROUNDS=${ROUNDS:-4}
TASKS=${TASKS:-200}
for p in munged slurmctld slurmd sbatch sqlite3; do
  command -v "$p" > /dev/null || { echo "SKIP: no $p (make slurm-test installs slurm-wlm and munge)"; exit 77; }
done
# The namespace has loopback and, on a bridge with no ports, a link-local
# address that reaches nothing: Slurm resolves names with AI_ADDRCONFIG,
# which finds nothing while loopback is the only interface with an address.
netns_setup='ip link set lo up && ip link add lq0 type bridge && ip addr add 169.254.77.1/32 dev lq0 && ip link set lq0 up'
if [ -z "${LEASEQ_SLURM_NETNS:-}" ] && unshare -n sh -c "$netns_setup" 2> /dev/null; then
  exec unshare -n sh -c "$netns_setup"' && exec env LEASEQ_SLURM_NETNS=1 "$0" "$@"' "$0" "$@"
fi
[ -n "${LEASEQ_SLURM_NETNS:-}" ] ||
  echo "note: no network namespace here; slurmctld listens on every address (on a free port, for this test only)"

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=slurm_cluster.sh
source "$here/slurm_cluster.sh"
bin=$(cd "$build/bin" && pwd)
tmp=$(mktemp -d /tmp/leaseq-slurm-test-XXXXXX)
db=$tmp/leaseq.db
broker_pid=""
jobs=()
start_s=$(date +%s)
cleanup() {
  set +e
  if [ -n "${SLURM_CONF:-}" ]; then
    [ ${#jobs[@]} -gt 0 ] && scancel "${jobs[@]}" 2> /dev/null
    scancel --user="$(id -un)" 2> /dev/null  # the urgent jobs; the cluster is ours
    for _ in $(seq 60); do [ -z "$(squeue -h 2> /dev/null)" ] && break; sleep 1; done
  fi
  # Workers still alive once their jobs are gone (they should not be).
  if [ -f "$db" ]; then
    for p in $(sqlite3 "$db" "SELECT pid FROM workers WHERE state = 'alive'" 2> /dev/null); do
      kill -KILL "$p" 2> /dev/null
    done
  fi
  slurm_down
  if [ -n "$broker_pid" ]; then kill -TERM "$broker_pid"; wait "$broker_pid"; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept: $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' TERM INT
fail() {
  echo "FAIL: $*" >&2
  squeue 2>&1 | head -20 >&2
  tail -30 "$tmp/slurm/log/slurmctld.log" >&2
  for f in "$tmp"/jobs/*.log; do echo "== $f" >&2; tail -5 "$f" >&2; done
  exit 1
}
q() { sqlite3 "$db" "$1"; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  local end=$(( $(date +%s) + limit ))
  until "$@"; do [ "$(date +%s)" -lt "$end" ] || fail "timed out ($limit s): $what"; sleep 0.5; done
}

slurm_up "$tmp/slurm" || fail "slurm did not start"
echo "slurm up: $(sinfo -h -o '%P %a %D %T' | tr '\n' ';') (pids ${slurm_pids[*]})"

port=$(free_port)
export LEASEQ_BROKER=tcp://127.0.0.1:$port
"$bin/leaseq-broker" --db "$db" 2> "$tmp/broker.log" &
broker_pid=$!
wait_for 20 "broker up" "$bin/leaseq-ctl" --timeout-ms 200 status > /dev/null 2>&1

for i in $(seq 1 "$TASKS"); do
  printf '{"key": "t%d", "cmd": ["sh", "-c", "sleep 2; echo %d"]}\n' "$i" "$i"
done > "$tmp/tasks.jsonl"
"$bin/leaseq-submit" --file "$tmp/tasks.jsonl" > /dev/null

# Two spot workers, one CPU each (the node has $(nproc)).
mkdir -p "$tmp/jobs"
export LEASEQ_BIN=$bin
for _ in 1 2; do
  jobs+=("$(sbatch --parsable --partition=spot --cpus-per-task=1 --output="$tmp/jobs/%j.log" \
            "$src/deploy/slurm/leaseq-worker.sbatch")")
done
echo "spot jobs: ${jobs[*]}"
alive() { [ "$(q "SELECT count(*) FROM workers WHERE state = 'alive'")" -ge "$1" ]; }
wait_for 120 "both spot workers registered" alive 2

restarts() { scontrol show job "$1" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p'; }
registered() { [ "$(q "SELECT count(*) FROM workers WHERE name = 'slurm-$1.$2' AND state = 'alive'")" = 1 ]; }
preemptions=0
for round in $(seq 1 "$ROUNDS"); do
  # Odd rounds take one CPU (one spot job goes), even rounds both.
  cpus=$(( round % 2 == 1 ? 1 : 2 ))
  declare -A before=()
  for j in "${jobs[@]}"; do before[$j]=$(restarts "$j"); done
  sbatch --parsable --partition=urgent --cpus-per-task="$cpus" --output=/dev/null --wrap 'sleep 5' > /dev/null
  t0=$(date +%s)
  preempted=()
  until [ ${#preempted[@]} -gt 0 ]; do
    for j in "${jobs[@]}"; do [ "$(restarts "$j")" != "${before[$j]}" ] && preempted+=("$j"); done
    [ $(( $(date +%s) - t0 )) -lt 120 ] || fail "round $round: no spot job preempted in 120 s"
    sleep 0.5
  done
  sleep 2  # both jobs of an even round are preempted in the same pass
  preempted=()
  for j in "${jobs[@]}"; do [ "$(restarts "$j")" != "${before[$j]}" ] && preempted+=("$j"); done
  preemptions=$(( preemptions + ${#preempted[@]} ))
  for j in "${preempted[@]}"; do
    r=$(restarts "$j")
    wait_for 180 "job $j requeued and its worker slurm-$j.$r registered" registered "$j" "$r"
  done
  echo "round $round: urgent job ($cpus CPU) preempted ${preempted[*]} after $(( $(date +%s) - t0 )) s... rejoined;" \
       "$(q "SELECT count(*) FROM tasks WHERE state = 'done'") / $TASKS done," \
       "$(q "SELECT count(*) FROM attempts WHERE outcome = 'released'") released so far"
done

done_all() {
  local bad
  bad=$(q "SELECT count(*) FROM tasks WHERE state IN ('failed', 'cancelled')")
  [ "$bad" = 0 ] || fail "$bad task(s) failed: $(q "SELECT key || ': ' || error FROM tasks WHERE state = 'failed' LIMIT 3")"
  [ "$(q "SELECT count(*) FROM tasks WHERE state = 'done'")" = "$TASKS" ]
}
wait_for 600 "all tasks done" done_all

# The checks.
not_once=$(q "SELECT count(*) FROM tasks t WHERE (SELECT count(*) FROM attempts a WHERE a.task_id = t.id AND a.outcome = 'done') <> 1")
[ "$not_once" = 0 ] || fail "$not_once task(s) without exactly one done attempt"
suspicious=$(q "SELECT coalesce(sum(suspicious), 0) FROM tasks")
[ "$suspicious" = 0 ] || fail "suspicion from drains: $suspicious"
lost=$(q "SELECT count(*) FROM attempts WHERE outcome = 'lost'")
[ "$lost" = 0 ] || fail "$lost lost attempt(s)"
failed=$(q "SELECT count(*) FROM attempts WHERE outcome = 'error'")
[ "$failed" = 0 ] || fail "$failed failed attempt(s) (outcome error)"
# Every incarnation but the current one of each job said goodbye.
for j in "${jobs[@]}"; do
  r=$(restarts "$j")
  for (( k=0; k<r; k++ )); do
    state=$(q "SELECT state FROM workers WHERE name = 'slurm-$j.$k'")
    [ "$state" = gone ] || fail "worker slurm-$j.$k is '$state', not gone (no goodbye?)"
  done
done
released=$(q "SELECT count(*) FROM attempts WHERE outcome = 'released'")
attempts=$(q "SELECT count(*) FROM attempts")
requeued_work=$(q "SELECT count(*) FROM attempts WHERE outcome = 'done' AND worker NOT LIKE '%.0'")
echo "slurm figures: preemptions $preemptions in $ROUNDS rounds; tasks $TASKS, all done once;" \
     "attempts $attempts (re-executions $((attempts - TASKS)), released at drains $released);" \
     "suspicious 0, lost 0, failed 0; done by requeued incarnations: $requeued_work;" \
     "wall time $(( $(date +%s) - start_s )) s"
echo "slurm.preemption: ok"
