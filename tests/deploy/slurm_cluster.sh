# A one-node Slurm cluster inside a test's own directory, sourced by
# slurm_test.sh: munged, slurmctld and slurmd from Debian's slurm-wlm and
# munge packages, with their own key, config, state, spool, logs and ports on
# 127.0.0.1, started and stopped by pid (never by name). SlurmUser=root.
#
#   slurm_up DIR      starts the three daemons; exports SLURM_CONF
#   slurm_down        stops them (TERM, then KILL), by the pids it saved
# Two partitions: spot (PriorityTier 1, PreemptMode=REQUEUE, GraceTime
# $SLURM_GRACE seconds) and urgent (PriorityTier 10), preempt/partition_prio.

SLURM_GRACE=${SLURM_GRACE:-40}
slurm_pids=()

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

slurm_up() {
  local dir=$1
  local host cpus ctld_port slurmd_port srun_lo
  host=$(hostname -s)
  cpus=$(nproc)
  mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
  chmod 700 "$dir/munge"
  # munged refuses a key that others can read, and a socket directory that
  # others can write.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged -F --socket="$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munge.seed" --force >>"$dir/log/munged.out" 2>&1 &
  slurm_pids+=($!)
  for _ in $(seq 100); do [ -S "$dir/munge/munge.sock" ] && break; sleep 0.1; done
  [ -S "$dir/munge/munge.sock" ] || { echo "munged did not start:"; cat "$dir/log/munged"*; return 1; }

  ctld_port=$(free_port)
  slurmd_port=$(free_port)
  srun_lo=$(( 40000 + RANDOM % 20000 ))
  cat >"$dir/slurm.conf" <<CONF
ClusterName=leaseqtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SrunPortRange=$srun_lo-$((srun_lo + 200))
CommunicationParameters=NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
# cred_expire: how long a requeued job waits before it may start again (120 s by default).
AuthInfo=socket=$dir/munge/munge.sock,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
# Preemption is found by the backfill scheduler (30 s cycle by default).
SchedulerParameters=bf_interval=5,sched_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
JobRequeue=1
ReturnToService=2
# SIGTERM to SIGKILL on preemption: the drain has this long (Slurm's default).
KillWait=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=spot Nodes=$host Default=YES PriorityTier=1 PreemptMode=REQUEUE GraceTime=$SLURM_GRACE MaxTime=INFINITE State=UP
PartitionName=urgent Nodes=$host PriorityTier=10 PreemptMode=OFF MaxTime=INFINITE State=UP
CONF
  cat >"$dir/cgroup.conf" <<CONF
CgroupPlugin=cgroup/v1
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -D -f "$SLURM_CONF" >>"$dir/log/slurmctld.out" 2>&1 &
  slurm_pids+=($!)
  slurmd -D -f "$SLURM_CONF" >>"$dir/log/slurmd.out" 2>&1 &
  slurm_pids+=($!)
  # Up when the node is idle (slurmd registered with slurmctld).
  for _ in $(seq 300); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -qx idle; then return 0; fi
    sleep 0.2
  done
  echo "slurm did not come up:"; sinfo -N 2>&1; tail -20 "$dir"/log/*; return 1
}

slurm_down() {
  local p i
  # Reverse order: slurmd, slurmctld, then munged.
  for (( i=${#slurm_pids[@]}-1; i>=0; i-- )); do
    p=${slurm_pids[$i]}
    kill -TERM "$p" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  slurm_pids=()
}
