/**
 * The one pilot script template, used by `picas slurm submit`, `picas firecrest submit` and shipped as
 * examples/slurm/pilot.sh (a test keeps that file equal to this template's output). It holds no
 * configuration and no secrets: picas-worker reads everything from PICAS_* env vars, passed by
 * `sbatch --export`, by FirecREST's job `env`, or from a 0600 env file named by PICAS_ENV_FILE.
 */
import { UsageError } from '@picas/core';
import { MIN_NODE_VERSION } from '@picas/worker/node-version';
import { WORKER_NODE_FLAGS } from '@picas/worker/node-flags';

export interface PilotScriptOptions {
  jobName?: string;
  /** Slurm array spec, e.g. `1-4` or `1-100%10` */
  array?: string;
  /** Slurm time limit, e.g. `01:00:00` */
  time?: string;
  partition?: string;
  account?: string;
  cpusPerTask?: number;
  /** `#SBATCH --gpus=`: a count, or type:count (e.g. `a100:2`) */
  gpus?: string;
  /** `#SBATCH --mem=`: a size as Slurm reads it (e.g. `16G`, `4000M`; a plain number is MB) */
  mem?: string;
  /** stdout path; Slurm patterns allowed (%A array job id, %a task id, %j job id) */
  output?: string;
  error?: string;
  /** more `#SBATCH` lines, with or without the `#SBATCH ` prefix, e.g. `--qos=short` */
  extraDirectives?: readonly string[];
  /**
   * shell lines the pilot runs first, e.g. `module load nodejs/22` (`--prelude`): the site's set-up for node.
   * With a prelude the script is a login shell (`#!/bin/bash -l`), where `module` is defined.
   */
  prelude?: string;
}

export const DEFAULT_JOB_NAME = 'picas-pilot';

/** Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, or UNLIMITED. */
const SLURM_TIME = /^(?:\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2}|UNLIMITED|INFINITE)$/i;
/** Slurm array specs: `1-10`, `0,3,7`, `1-100:2`, `1-100%10`. */
const SLURM_ARRAY = /^\d+(?:-\d+(?::\d+)?)?(?:,\d+(?:-\d+(?::\d+)?)?)*(?:%\d+)?$/;
/** A value that is safe on an `#SBATCH` line: no whitespace, quotes or shell syntax. */
const PLAIN_VALUE = /^[A-Za-z0-9_.,:%+\-/=@]+$/;

/** Every problem with the options at once (empty when they are fine), each naming its flag. */
export function pilotScriptProblems(opts: PilotScriptOptions): string[] {
  const problems: string[] = [];
  const plain = (flag: string, value: string | undefined) => {
    if (value !== undefined && !PLAIN_VALUE.test(value)) {
      problems.push(`${flag}: '${value}' may only contain letters, digits and _ . , : % + - / = @ (no spaces or shell syntax)`);
    }
  };
  plain('--job-name', opts.jobName);
  if (opts.array !== undefined && !SLURM_ARRAY.test(opts.array)) {
    problems.push(`--array: '${opts.array}' is not a Slurm array spec (e.g. 1-4, 0,3,7, 1-100%10)`);
  }
  if (opts.time !== undefined && !SLURM_TIME.test(opts.time)) {
    problems.push(`--time: '${opts.time}' is not a Slurm time limit (minutes, MM:SS, HH:MM:SS or D-HH:MM:SS)`);
  }
  plain('--partition', opts.partition);
  plain('--account', opts.account);
  if (opts.cpusPerTask !== undefined && (!Number.isInteger(opts.cpusPerTask) || opts.cpusPerTask < 1)) {
    problems.push(`--cpus-per-task: '${opts.cpusPerTask}' must be a whole number of at least 1`);
  }
  if (opts.gpus !== undefined && !/^(?:[A-Za-z0-9_-]+:)?\d+$/.test(opts.gpus)) problems.push(`--gpus: '${opts.gpus}' must be a number of GPUs per pilot, or type:number (e.g. 2, a100:1)`);
  if (opts.mem !== undefined && !/^\d+[KMGT]?$/i.test(opts.mem)) problems.push(`--mem: '${opts.mem}' must be a size as Slurm reads it (e.g. 16G, 4000M; a plain number is MB)`);
  plain('--output', opts.output);
  plain('--error', opts.error);
  for (const d of opts.extraDirectives ?? []) {
    const body = d.replace(/^#SBATCH\s+/, '');
    if (!/^--?[A-Za-z]/.test(body) || !PLAIN_VALUE.test(body)) {
      problems.push(`--sbatch-option: '${d}' must be one sbatch option such as --qos=short (no spaces or shell syntax)`);
    }
  }
  if (opts.prelude !== undefined && (opts.prelude.trim() === '' || /[\0\r]/.test(opts.prelude) || /^#SBATCH/m.test(opts.prelude))) {
    problems.push(`--prelude: must be shell commands such as 'module load nodejs/22' (not empty, no #SBATCH lines or carriage returns)`);
  }
  return problems;
}

export function renderPilotScript(opts: PilotScriptOptions = {}): string {
  const problems = pilotScriptProblems(opts);
  if (problems.length > 0) {
    const n = problems.length;
    throw new UsageError(n === 1 ? `invalid pilot job option ${problems[0]}` : `invalid pilot job options (${n} problems)`, { problems });
  }
  const directives: string[] = [`#SBATCH --job-name=${opts.jobName ?? DEFAULT_JOB_NAME}`];
  if (opts.array) directives.push(`#SBATCH --array=${opts.array}`);
  if (opts.time) directives.push(`#SBATCH --time=${opts.time}`);
  if (opts.cpusPerTask) directives.push(`#SBATCH --cpus-per-task=${opts.cpusPerTask}`);
  if (opts.gpus) directives.push(`#SBATCH --gpus=${opts.gpus}`);
  if (opts.mem) directives.push(`#SBATCH --mem=${opts.mem}`);
  if (opts.partition) directives.push(`#SBATCH --partition=${opts.partition}`);
  if (opts.account) directives.push(`#SBATCH --account=${opts.account}`);
  directives.push(`#SBATCH --output=${opts.output ?? (opts.array ? 'picas-pilot-%A_%a.out' : 'picas-pilot-%j.out')}`);
  if (opts.error) directives.push(`#SBATCH --error=${opts.error}`);
  for (const d of opts.extraDirectives ?? []) directives.push(d.startsWith('#SBATCH') ? d : `#SBATCH ${d}`);
  const [minMajor, minMinor] = MIN_NODE_VERSION.split('.');
  const prelude = opts.prelude
    ? `# the site's set-up (--prelude), e.g. to put node on PATH
set +u
${opts.prelude.trim()}
set -u

`
    : '';
  return `#!/bin/bash${opts.prelude ? ' -l' : ''}
${directives.join('\n')}
#
# A picas pilot job. Each array task runs one picas-worker, which claims tokens from the CouchDB pool,
# runs them and records the results, until the pool is empty or the job's time is nearly up. It reads
# the job's end time from squeue and claims a token only when its expected_seconds fit in the time left.
# At the time limit or on scancel, Slurm sends SIGTERM: the worker puts its running tokens back to todo.
#
# The #SBATCH lines above: --job-name is what \`picas slurm status\` looks for; --array starts that many
# pilots (one worker each); --time is each pilot's time limit; --cpus-per-task, --gpus and --mem are
# what each pilot packs tokens into (it finds them in SLURM_* by itself; docs/resources.md); --output
# is the pilot's log (%A array job id, %a task id). Override any of them on the command line, e.g. \`sbatch --array=1-20 pilot.sh\`.
#
# Configuration comes only from PICAS_* environment variables (PICAS_URL, PICAS_DB, PICAS_USERNAME,
# PICAS_PASSWORD, and worker options such as PICAS_LEASE; see \`picas-worker --help\`). Either export them
# before \`sbatch pilot.sh\` (sbatch passes your environment on), or put them in a file only you can
# read (chmod 600) and set PICAS_ENV_FILE to its path. Never write a password into this script.
set -euo pipefail

if [ -n "\${PICAS_ENV_FILE:-}" ]; then
  if [ -n "$(find "\${PICAS_ENV_FILE}" -maxdepth 0 -perm /077 2>/dev/null)" ]; then
    echo "picas pilot: warning: \${PICAS_ENV_FILE} is readable by others; chmod 600 it" >&2
  fi
  set -a
  # shellcheck disable=SC1090
  . "\${PICAS_ENV_FILE}"
  set +a
fi

# the worker finds this task's CPUs, memory and GPUs in SLURM_* by itself (docs/resources.md)
# the pilot's log (--output) as one readable line per event, unless PICAS_LOG_FORMAT=json is set
export PICAS_LOG_FORMAT="\${PICAS_LOG_FORMAT:-text}"

${prelude}echo "picas pilot: job \${SLURM_ARRAY_JOB_ID:-\${SLURM_JOB_ID:-none}} task \${SLURM_ARRAY_TASK_ID:-none} on $(hostname) at $(date -Is)" >&2

# PICAS_WORKER_BUNDLE: a self-contained picas-worker (one file, staged here by the launcher) that runs with
# node (PICAS_NODE, default: node from PATH). Node is checked first, so a missing or old one is a clear error.
if [ -n "\${PICAS_WORKER_BUNDLE:-}" ]; then
  picas_node="\${PICAS_NODE:-node}"
  if ! command -v "\${picas_node}" >/dev/null 2>&1; then
    echo "picas pilot: error: node not found: '\${picas_node}' is not on this node's PATH (\${PATH}); give the launcher --node /path/to/node or --prelude 'module load nodejs/22'" >&2
    exit 127
  fi
  picas_node_version="$("\${picas_node}" --version 2>/dev/null || true)"
  picas_v="\${picas_node_version#v}"
  picas_major="\${picas_v%%.*}"
  picas_minor="\${picas_v#*.}"
  picas_minor="\${picas_minor%%.*}"
  if ! [[ "\${picas_major}" =~ ^[0-9]+$ && "\${picas_minor}" =~ ^[0-9]+$ ]] || [ "\${picas_major}" -lt ${minMajor} ] || { [ "\${picas_major}" -eq ${minMajor} ] && [ "\${picas_minor}" -lt ${minMinor} ]; }; then
    echo "picas pilot: error: picas-worker needs node >= ${MIN_NODE_VERSION}, but $(command -v "\${picas_node}") is '\${picas_node_version:-unknown}'; give the launcher --node /path/to/a/newer/node or --prelude 'module load nodejs/22'" >&2
    exit 1
  fi
  if [ ! -r "\${PICAS_WORKER_BUNDLE}" ]; then
    echo "picas pilot: error: the picas-worker bundle \${PICAS_WORKER_BUNDLE} is missing on $(hostname); stage it where the compute nodes see it" >&2
    exit 1
  fi
  echo "picas pilot: running \${PICAS_WORKER_BUNDLE} with $(command -v "\${picas_node}") \${picas_node_version}" >&2
  exec "\${picas_node}" ${WORKER_NODE_FLAGS.join(' ')} "\${PICAS_WORKER_BUNDLE}" "$@"
fi

# PICAS_WORKER_CMD lets a launcher point at a picas-worker that is not on PATH.
# exec: the worker itself gets Slurm's SIGTERM (time limit, scancel) and puts running tokens back.
exec \${PICAS_WORKER_CMD:-picas-worker} "$@"
`;
}

/**
 * The options examples/slurm/pilot.sh is rendered with (a test keeps the file equal to the output).
 * Regenerate it with: picas slurm submit --array 1-4 --time 01:00:00 --cpus-per-task 1 --dry-run > examples/slurm/pilot.sh
 */
export const EXAMPLE_PILOT_SCRIPT_OPTIONS: PilotScriptOptions = { array: '1-4', time: '01:00:00', cpusPerTask: 1 };
