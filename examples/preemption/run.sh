#!/usr/bin/env bash
# The scenario: Dask's "Resilience against hardware failures" example, redone
# with leaseq. A broker and 4 workers (1 slot each, each under a nanny with a
# 400 MB memory limit); 200 tasks that double two of the numbers 0..399 with a
# 20 ms sleep per number, and one task after all of them that sums their
# output. Two workers are non-preemptible ("stable-*"); every few seconds one of
# the others ("spot-*", pid read from the workers table) is preempted.
#
#   run.sh [--bin DIR] [--signal TERM|KILL] [--kill-every SECONDS]
#          [--restart-broker] [--keep] [--dashboard [--dashboard-seconds N]]
#
# --dashboard: the broker serves its dashboard (--http on 127.0.0.1, port
# 8080 or a free one), the URL is printed at the start, each number takes
# 150 ms instead of 20 (a run of about 20 s, something to watch), and the
# broker stays up N seconds (default 300) after the run to look around.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin="$here/../../build/bin"
signal=TERM
kill_every=3
restart_broker=0
keep=0
dashboard=0
dashboard_seconds=300
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --signal) signal=${2#SIG}; shift 2 ;;
    --kill-every) kill_every=$2; shift 2 ;;
    --restart-broker) restart_broker=1; shift ;;
    --keep) keep=1; shift ;;
    --dashboard) dashboard=1; shift ;;
    --dashboard-seconds) dashboard_seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$signal" in TERM|KILL) ;; *) echo "run.sh: --signal must be TERM or KILL" >&2; exit 2 ;; esac
kill_every_ms=$(awk -v s="$kill_every" 'BEGIN { printf "%d", s * 1000 }')
[ "$kill_every_ms" -gt 0 ] || { echo "run.sh: --kill-every must be a positive number of seconds" >&2; exit 2; }
now_ms() { date +%s%3N; }
bin=$(cd "$bin" && pwd)

work=$(mktemp -d /tmp/leaseq-demo-XXXXXX)
db="$work/leaseq.db"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 30000)))
export LEASEQ_BROKER="tcp://127.0.0.1:$port"
http_args=()
per_number=0.02
if [ "$dashboard" = 1 ]; then
  per_number=0.15
  http_port=$(python3 -c 'import socket
s = socket.socket()
try:
    s.bind(("127.0.0.1", 8080))
except OSError:
    s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
  http_args=(--http "127.0.0.1:$http_port")
  echo "dashboard: http://127.0.0.1:$http_port/  (metrics: http://127.0.0.1:$http_port/metrics)"
fi
export LEASEQ_DB="$db"
pids=()
broker_pid=""

cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$broker_pid" ] && kill -TERM "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null || true
  if [ "$keep" = 1 ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

start_broker() {
  "$bin/leaseq-broker" "${http_args[@]}" 2>>"$work/broker.log" &
  broker_pid=$!
  until "$bin/leaseq-ctl" --timeout-ms 200 status >/dev/null 2>&1; do sleep 0.05; done
}

start=$(now_ms)
start_broker
for name in stable-1 stable-2 spot-1 spot-2; do
  "$bin/leaseq-worker" --nanny --slots 1 --memory-limit 400MB --name "$name" 2>>"$work/$name.log" &
  pids+=($!)
done

# 200 tasks of two numbers each, then the sum of all their output.
{
  for i in $(seq 0 199); do
    printf '{"key": "double-%d", "cmd": ["sh", "-c", "for n in \\"$@\\"; do sleep %s; echo $((n * 2)); done", "sh", "%d", "%d"]}\n' \
      "$i" "$per_number" $((2 * i)) $((2 * i + 1))
  done
  printf '{"key": "sum", "cmd": ["awk", "{ s += $1 } END { print s }"], "after": ['
  for i in $(seq 0 199); do printf '"double-%d"%s' "$i" "$([ "$i" -lt 199 ] && echo ,)"; done
  printf ']}\n'
} > "$work/tasks.jsonl"
"$bin/leaseq-submit" --file "$work/tasks.jsonl" > /dev/null

# The preemptions, as in the seed: one spot worker gets SIG$signal at once
# (as soon as one is up, preferring one that runs a task), then one every
# $kill_every seconds.
kills=0
broker_restarted=0
next_kill=$(now_ms)
restart_at=$(( $(now_ms) + 1000 ))
while [ "$(sqlite3 "$db" "SELECT state FROM tasks WHERE key = 'sum'")" != done ]; do
  now=$(now_ms)
  if [ "$now" -ge "$next_kill" ]; then
    victim=$(sqlite3 "$db" "SELECT pid FROM workers w WHERE name LIKE 'spot-%' AND state = 'alive'
      ORDER BY EXISTS (SELECT 1 FROM attempts a WHERE a.worker = w.name AND a.outcome = 'running') DESC,
      random() LIMIT 1")
    # No spot worker up yet: try again on the next round, not in kill_every.
    if [ -n "$victim" ] && kill -"$signal" "$victim" 2>/dev/null; then
      kills=$((kills + 1))
      next_kill=$((now + kill_every_ms))
    fi
  fi
  if [ "$restart_broker" = 1 ] && [ "$broker_restarted" = 0 ] && [ "$now" -ge "$restart_at" ]; then
    kill -KILL "$broker_pid"; wait "$broker_pid" 2>/dev/null || true
    start_broker
    broker_restarted=1
  fi
  failed=$(sqlite3 "$db" "SELECT count(*) FROM tasks WHERE state IN ('failed', 'cancelled')")
  if [ "$failed" != 0 ]; then echo "run.sh: $failed task(s) failed" >&2; break; fi
  sleep 0.05
done

total=$("$bin/leaseq-ctl" result sum)
elapsed_ms=$(( $(now_ms) - start ))
printf 'sum(range(400)) on cluster: %s\t(should be 159600)\n' "$total"
reclaimed=$(sqlite3 "$db" "SELECT count(*) FROM attempts WHERE outcome IN ('lost', 'released')")
lost=$(sqlite3 "$db" "SELECT count(*) FROM attempts WHERE outcome = 'lost'")
printf 'workers preempted with SIG%s: %d; task attempts reclaimed: %d (%d from lost workers); broker restarted: %s; wall time %d.%03d s\n' \
  "$signal" "$kills" "$reclaimed" "$lost" "$([ "$broker_restarted" = 1 ] && echo yes || echo no)" $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
# Every task done, each by exactly one accepted attempt.
twice=$(sqlite3 "$db" "SELECT count(*) FROM tasks t WHERE (SELECT count(*) FROM attempts a WHERE a.task_id = t.id AND a.outcome = 'done') <> 1")
if [ "$twice" != 0 ]; then echo "run.sh: $twice task(s) without exactly one done attempt" >&2; exit 1; fi
if [ "$dashboard" = 1 ]; then
  echo "dashboard: http://127.0.0.1:$http_port/ stays up for $dashboard_seconds s (Ctrl-C to stop)"
  sleep "$dashboard_seconds" || true
fi
[ "$total" = 159600 ]
