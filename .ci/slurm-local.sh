#!/usr/bin/env bash
# slurm-local.sh: a real single-node Slurm cluster (Debian slurm-wlm 22.05 + munge) without
# systemd, for evomerge's tests and CI (.ci/run starts one; docs/cluster.md says how it works).
#   apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge
# Usage: slurm-local.sh start|stop|status|env      (must run as root)
# Env:   SLURM_LOCAL_DIR    state/log/conf dir          (default slurm-local/state in the temp folder)
#        SLURM_LOCAL_GPUS   fake GPUs (gres gpu:N), 0=off (default 0)
#        SLURM_LOCAL_CTLD_PORT / SLURM_LOCAL_SLURMD_PORT  (default 6817 / 6818)
#        SLURM_LOCAL_TIMEOUT seconds to wait for an idle node (default 60)
# Clients need: export SLURM_CONF=$SLURM_LOCAL_DIR/etc/slurm.conf   (printed by `env`)
# The daemons listen on the address this machine's name resolves to (127.0.0.1 on a
# typical CI box), are stopped by the PIDs recorded at start (never by name), and
# nothing is written to /etc/slurm or /etc/munge.
set -euo pipefail +m   # +m: no job control, so `setsid cmd &` execs in place and $! is the daemon
D=${SLURM_LOCAL_DIR:-$(dirname "$(mktemp -u)")/slurm-local/state}
GPUS=${SLURM_LOCAL_GPUS:-0}
CPORT=${SLURM_LOCAL_CTLD_PORT:-6817} DPORT=${SLURM_LOCAL_SLURMD_PORT:-6818}
TIMEOUT=${SLURM_LOCAL_TIMEOUT:-60}
HOST=$(uname -n); NODE=${HOST%%.*}   # slurmctld/slurmd match this against gethostname()
export SLURM_CONF=$D/etc/slurm.conf
DAEMONS="munged slurmctld slurmd"

log() { echo "slurm-local: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# pid_of NAME: the PID we recorded for NAME, if that process is still the binary we started
pid_of() {
  local p exe
  p=$(cat "$D/run/$1.pid" 2>/dev/null) || return 1
  exe=$(cat "$D/run/$1.exe" 2>/dev/null) || return 1
  [ -n "$p" ] && [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$exe" ] && echo "$p"
}
# launch NAME CMD...: start CMD in the foreground mode of the daemon, detached, record its PID
launch() {
  local name=$1; shift
  setsid "$@" </dev/null >>"$D/log/$name.stdout" 2>&1 &
  echo $! >"$D/run/$name.pid"
  readlink -f "$(command -v "$1")" >"$D/run/$name.exe"
}
# daemons run in the foreground, so *.stdout holds their whole log, including early config errors
tail_logs() { for f in "$D"/log/*.stdout; do [ -s "$f" ] && { echo "--- $f"; tail -n 6 "$f"; }; done >&2 || true; }

write_conf() {
  local cpus mem addr comm="" gres_node="" gres_types=""
  # With NoInAddrAny, Slurm binds to what gethostname() resolves to, so the configured
  # addresses must be that one (127.0.x.x here). If the name does not resolve, bind to any.
  addr=$(getent ahostsv4 "$HOST" 2>/dev/null | awk 'NR==1 {print $1}')
  if [ -n "$addr" ]; then comm="CommunicationParameters=NoCtldInAddrAny,NoInAddrAny"
  else addr=127.0.0.1; log "warning: $HOST does not resolve; daemons listen on all addresses"; fi
  cpus=$(nproc)
  mem=$(awk '/^MemTotal:/ {printf "%d", $2/1024*0.95}' /proc/meminfo)
  rm -f "$D/etc/gres.conf"
  if [ "$GPUS" -gt 0 ]; then
    gres_node="Gres=gpu:$GPUS"; gres_types="GresTypes=gpu"
    for ((i = 0; i < GPUS; i++)); do ln -sfn /dev/null "$D/dev/nvidia$i"; done  # char-device stand-ins
    printf 'AutoDetect=off\nNodeName=%s Name=gpu File=%s/dev/nvidia[0-%d]\n' \
      "$NODE" "$D" $((GPUS - 1)) >"$D/etc/gres.conf"
  fi
  cat >"$SLURM_CONF" <<EOF
ClusterName=local
SlurmctldHost=$NODE($addr)
SlurmctldPort=$CPORT
SlurmdPort=$DPORT
$comm
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket
StateSaveLocation=$D/ctld
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.slurm-pid
SlurmdPidFile=$D/run/slurmd.slurm-pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,bf_interval=1
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
$gres_types
NodeName=$NODE NodeAddr=$addr CPUs=$cpus RealMemory=$mem $gres_node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  [ "$(id -u)" = 0 ] || die "must run as root (slurmd launches jobs as the submitting user)"
  for b in munged munge slurmctld slurmd sinfo; do command -v "$b" >/dev/null || die "$b not found; apt-get install slurmctld slurmd slurm-client munge"; done
  for n in $DAEMONS; do pid_of "$n" >/dev/null && die "$n already running (pid $(pid_of "$n")); run stop first"; done
  mkdir -p "$D"/{etc,run,log,munge,spool,ctld,dev}
  chmod 711 "$D/munge"          # munged refuses dirs writable by others; 711 lets non-root reach the socket
  [ -s "$D/munge/munge.key" ] || dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
  chmod 600 "$D/munge/munge.key"
  write_conf
  trap 'rc=$?; [ $rc = 0 ] || { log "start failed; logs:"; tail_logs; stop >/dev/null 2>&1 || true; }' EXIT
  launch munged munged --foreground --force --key-file="$D/munge/munge.key" \
    --socket="$D/munge/munge.socket" --pid-file="$D/munge/munged.pid" \
    --seed-file="$D/munge/munged.seed" --log-file="$D/log/munged.log"
  local t=0
  until munge -n -S "$D/munge/munge.socket" 2>/dev/null | unmunge -S "$D/munge/munge.socket" >/dev/null 2>&1; do
    pid_of munged >/dev/null || die "munged exited"
    ((t++ < 50)) || die "munged not answering after 10s"; sleep 0.2
  done
  launch slurmctld slurmctld -D -f "$SLURM_CONF"
  launch slurmd slurmd -D -N "$NODE" -f "$SLURM_CONF"
  local start=$SECONDS state="" resumed=""
  while :; do
    state=$(timeout 10 sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    case "$state" in
      idle | mixed | allocated) break ;;
      drain* | down)   # left over in saved state from an earlier run: resume once
        [ -n "$resumed" ] || { resumed=1; scontrol update NodeName="$NODE" State=RESUME || true; } ;;
    esac
    for n in slurmctld slurmd; do pid_of "$n" >/dev/null || die "$n exited"; done
    ((SECONDS - start < TIMEOUT)) || die "node not idle after ${TIMEOUT}s (state '$state' $(sinfo -h -R))"
    sleep 0.2
  done
  trap - EXIT
  log "node $NODE is $state after $((SECONDS - start))s; export SLURM_CONF=$SLURM_CONF"
}

stop() {
  if pid_of slurmctld >/dev/null; then   # cancel remaining jobs so no slurmstepd/job processes linger
    local jobs; jobs=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
    [ -z "$jobs" ] || timeout 10 scancel $jobs || true
    for _ in $(seq 50); do [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
  fi
  for n in slurmd slurmctld munged; do
    local p; p=$(pid_of "$n") || { rm -f "$D/run/$n.pid"; continue; }
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 50); do pid_of "$n" >/dev/null || break; sleep 0.2; done
    if pid_of "$n" >/dev/null; then log "$n ($p) ignored SIGTERM; SIGKILL"; kill -KILL "$p" 2>/dev/null || true; fi
    rm -f "$D/run/$n.pid"
    log "stopped $n ($p)"
  done
}

status() {
  local rc=0
  for n in $DAEMONS; do if p=$(pid_of "$n"); then echo "$n running (pid $p)"; else echo "$n not running"; rc=3; fi; done
  [ $rc = 0 ] && sinfo -N -o '%N %T %c %m %G'
  return $rc
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export SLURM_CONF=$SLURM_CONF" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
