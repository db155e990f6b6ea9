#!/usr/bin/env bash
# Installs and starts a single-node Slurm (Debian's packages) for picas' Slurm tests and for trying
# `picas slurm submit` on one machine. Idempotent: a second run only checks that everything is up.
#
#   sudo bash scripts/setup-slurm.sh        (or: sudo npm run slurm:setup)
#
# Needs root and Debian/Ubuntu's archive. There is no systemd here, so the daemons are started by hand.
# Everything Slurm writes (state, spool, pid and log files, the job completion log) lives under
# $PICAS_SLURM_DIR (default /var/tmp/picas-slurm); the config is /etc/slurm/slurm.conf.
set -euo pipefail

SLURM_DIR=${PICAS_SLURM_DIR:-/var/tmp/picas-slurm}
CONF=/etc/slurm/slurm.conf
MARKER='# written by picas scripts/setup-slurm.sh'
CPUS=${PICAS_SLURM_CPUS:-4}

say() { printf 'setup-slurm: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  die "this installs packages and starts system daemons, so it must run as root: sudo bash $0
  (without root, picas' Slurm tests skip; set PICAS_REQUIRE_SLURM=1 to make them fail instead)"
fi

# --- packages -------------------------------------------------------------------------------------
packages=()
for bin in slurmctld slurmd sbatch sinfo squeue scontrol munged munge unmunge mungekey; do
  if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ]; then
    packages=(slurmctld slurmd slurm-client munge)
    break
  fi
done
# like any HPC node, this one can compile the jobs' programs (the fractals example is C)
command -v cc >/dev/null 2>&1 || packages+=(gcc libc6-dev)
if [ "${#packages[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install slurmctld, slurmd, slurm-client and munge with your package manager"
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    # keep dpkg from trying to start the daemons (there is no init system to do it)
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  remove_policy() { if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
  trap remove_policy EXIT
  say "installing ${packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  remove_policy
  trap - EXIT
fi
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

# --- munge ----------------------------------------------------------------------------------------
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  say "creating the munge key"
  mungekey --create --keyfile=/etc/munge/munge.key
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
if ! munge_ok; then
  say "starting munged"
  # --force: start even if a stale socket from an earlier run is left over
  runuser -u munge -- /usr/sbin/munged --force
  for _ in $(seq 50); do munge_ok && break; sleep 0.1; done
  munge_ok || die "munged did not start (see /var/log/munge/munged.log)"
fi

# --- slurm.conf -----------------------------------------------------------------------------------
HOST=$(hostname -s)
MEM_MB=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
mkdir -p /etc/slurm "$SLURM_DIR/state" "$SLURM_DIR/spool" "$SLURM_DIR/log"
chmod 0755 "$SLURM_DIR"

wanted=$(cat <<EOF
$MARKER; rerun it to rewrite this file.
# One node, no cgroups, no accounting database: enough to run real sbatch array jobs on this machine.
ClusterName=picas
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$SLURM_DIR/log/jobcomp.log
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# lets the node declare more CPUs than it has (CPUs=$CPUS below), so small machines run 4 pilots at once
SlurmdParameters=config_overrides
ReturnToService=2
# finished jobs stay visible in squeue/scontrol for 10 minutes (there is no sacct here)
MinJobAge=600
KillWait=30
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
)

if [ -e "$CONF" ] && ! head -n 1 "$CONF" | grep -qF "$MARKER"; then
  die "$CONF exists and was not written by this script; not touching it (move it away to let this script manage Slurm here)"
fi

running() { # running NAME: the daemon's pid file names a live process of that name (not a reused pid)
  local pidfile="$SLURM_DIR/$1.pid" pid
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]
}

stop_daemon() { # stop_daemon NAME: SIGTERM the pid from its pid file, then wait for it to go
  local pidfile="$SLURM_DIR/$1.pid" pid
  running "$1" || return 0
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

if [ ! -e "$CONF" ] || [ "$(cat "$CONF")" != "$wanted" ]; then
  say "writing $CONF"
  printf '%s\n' "$wanted" > "$CONF.tmp"
  chmod 0644 "$CONF.tmp"
  mv "$CONF.tmp" "$CONF"
  # a changed node or path definition needs fresh daemons
  stop_daemon slurmd
  stop_daemon slurmctld
fi

# --- daemons --------------------------------------------------------------------------------------
if ! running slurmctld; then
  say "starting slurmctld"
  slurmctld -f "$CONF"
fi
if ! running slurmd; then
  say "starting slurmd"
  slurmd -f "$CONF" -N "$HOST"
fi

state=""
for i in $(seq 150); do
  state=$(sinfo -h -N -o %T 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle|mixed|allocated|completing) break ;;
    down*|drain*|drained*|fail*)
      # left down or drained by an earlier run (e.g. the machine was restarted with jobs on it)
      scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.2
  if [ "$i" = 150 ]; then
    die "the node did not become idle (state '${state:-none}'); see $SLURM_DIR/log/slurmctld.log and slurmd.log"
  fi
done

printf 'slurm ready: node %s (%s CPUs) state %s, partition debug, config %s, logs %s/log\n' \
  "$HOST" "$CPUS" "$state" "$CONF" "$SLURM_DIR"
