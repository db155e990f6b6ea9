#!/bin/bash
#SBATCH --job-name=picas-pilot
#SBATCH --array=1-4
#SBATCH --time=01:00:00
#SBATCH --cpus-per-task=1
#SBATCH --output=picas-pilot-%A_%a.out
#
# A picas pilot job. Each array task runs one picas-worker, which claims tokens from the CouchDB pool,
# runs them and records the results, until the pool is empty or the job's time is nearly up. It reads
# the job's end time from squeue and claims a token only when its expected_seconds fit in the time left.
# At the time limit or on scancel, Slurm sends SIGTERM: the worker puts its running tokens back to todo.
#
# The #SBATCH lines above: --job-name is what `picas slurm status` looks for; --array starts that many
# pilots (one worker each); --time is each pilot's time limit; --cpus-per-task, --gpus and --mem are
# what each pilot packs tokens into (it finds them in SLURM_* by itself; docs/resources.md); --output
# is the pilot's log (%A array job id, %a task id). Override any of them on the command line, e.g. `sbatch --array=1-20 pilot.sh`.
#
# Configuration comes only from PICAS_* environment variables (PICAS_URL, PICAS_DB, PICAS_USERNAME,
# PICAS_PASSWORD, and worker options such as PICAS_LEASE; see `picas-worker --help`). Either export them
# before `sbatch pilot.sh` (sbatch passes your environment on), or put them in a file only you can
# read (chmod 600) and set PICAS_ENV_FILE to its path. Never write a password into this script.
set -euo pipefail

if [ -n "${PICAS_ENV_FILE:-}" ]; then
  if [ -n "$(find "${PICAS_ENV_FILE}" -maxdepth 0 -perm /077 2>/dev/null)" ]; then
    echo "picas pilot: warning: ${PICAS_ENV_FILE} is readable by others; chmod 600 it" >&2
  fi
  set -a
  # shellcheck disable=SC1090
  . "${PICAS_ENV_FILE}"
  set +a
fi

# the worker finds this task's CPUs, memory and GPUs in SLURM_* by itself (docs/resources.md)
# the pilot's log (--output) as one readable line per event, unless PICAS_LOG_FORMAT=json is set
export PICAS_LOG_FORMAT="${PICAS_LOG_FORMAT:-text}"

echo "picas pilot: job ${SLURM_ARRAY_JOB_ID:-${SLURM_JOB_ID:-none}} task ${SLURM_ARRAY_TASK_ID:-none} on $(hostname) at $(date -Is)" >&2

# PICAS_WORKER_BUNDLE: a self-contained picas-worker (one file, staged here by the launcher) that runs with
# node (PICAS_NODE, default: node from PATH). Node is checked first, so a missing or old one is a clear error.
if [ -n "${PICAS_WORKER_BUNDLE:-}" ]; then
  picas_node="${PICAS_NODE:-node}"
  if ! command -v "${picas_node}" >/dev/null 2>&1; then
    echo "picas pilot: error: node not found: '${picas_node}' is not on this node's PATH (${PATH}); give the launcher --node /path/to/node or --prelude 'module load nodejs/22'" >&2
    exit 127
  fi
  picas_node_version="$("${picas_node}" --version 2>/dev/null || true)"
  picas_v="${picas_node_version#v}"
  picas_major="${picas_v%%.*}"
  picas_minor="${picas_v#*.}"
  picas_minor="${picas_minor%%.*}"
  if ! [[ "${picas_major}" =~ ^[0-9]+$ && "${picas_minor}" =~ ^[0-9]+$ ]] || [ "${picas_major}" -lt 20 ] || { [ "${picas_major}" -eq 20 ] && [ "${picas_minor}" -lt 19 ]; }; then
    echo "picas pilot: error: picas-worker needs node >= 20.19.0, but $(command -v "${picas_node}") is '${picas_node_version:-unknown}'; give the launcher --node /path/to/a/newer/node or --prelude 'module load nodejs/22'" >&2
    exit 1
  fi
  if [ ! -r "${PICAS_WORKER_BUNDLE}" ]; then
    echo "picas pilot: error: the picas-worker bundle ${PICAS_WORKER_BUNDLE} is missing on $(hostname); stage it where the compute nodes see it" >&2
    exit 1
  fi
  echo "picas pilot: running ${PICAS_WORKER_BUNDLE} with $(command -v "${picas_node}") ${picas_node_version}" >&2
  exec "${picas_node}" --max-semi-space-size=8 "${PICAS_WORKER_BUNDLE}" "$@"
fi

# PICAS_WORKER_CMD lets a launcher point at a picas-worker that is not on PATH.
# exec: the worker itself gets Slurm's SIGTERM (time limit, scancel) and puts running tokens back.
exec ${PICAS_WORKER_CMD:-picas-worker} "$@"
