/**
 * The one pilot script template, used by `picas slurm submit`, `picas firecrest submit` and shipped as
 * examples/slurm/pilot.sh. It holds no configuration and no secrets: picas-worker reads everything from
 * PICAS_* env vars, passed by sbatch --export, by FirecREST's job `env`, or from a 0600 env file.
 */
export interface PilotScriptOptions {
  jobName?: string;
  /** Slurm array spec, e.g. `1-4` or `1-100%10` */
  array?: string;
  /** Slurm time limit, e.g. `01:00:00` */
  time?: string;
  partition?: string;
  account?: string;
  cpusPerTask?: number;
  /** stdout path; Slurm patterns allowed (%A array job id, %a task id, %j job id) */
  output?: string;
  error?: string;
  extraDirectives?: readonly string[];
}

export function renderPilotScript(opts: PilotScriptOptions = {}): string {
  const directives: string[] = [`#SBATCH --job-name=${opts.jobName ?? 'picas-pilot'}`];
  if (opts.array) directives.push(`#SBATCH --array=${opts.array}`);
  if (opts.time) directives.push(`#SBATCH --time=${opts.time}`);
  if (opts.cpusPerTask) directives.push(`#SBATCH --cpus-per-task=${opts.cpusPerTask}`);
  if (opts.partition) directives.push(`#SBATCH --partition=${opts.partition}`);
  if (opts.account) directives.push(`#SBATCH --account=${opts.account}`);
  directives.push(`#SBATCH --output=${opts.output ?? (opts.array ? 'picas-pilot-%A_%a.out' : 'picas-pilot-%j.out')}`);
  if (opts.error) directives.push(`#SBATCH --error=${opts.error}`);
  for (const d of opts.extraDirectives ?? []) directives.push(d.startsWith('#SBATCH') ? d : `#SBATCH ${d}`);
  return `#!/bin/bash
${directives.join('\n')}
#
# picas pilot job. Each array task runs one picas-worker, which claims tokens until the pool is empty
# or the job's time is nearly up (it reads the end time from squeue), then exits.
# All settings come from PICAS_* environment variables (PICAS_URL, PICAS_DB, PICAS_USERNAME,
# PICAS_PASSWORD, PICAS_SLOTS, ...): pass them with \`sbatch --export=ALL,...\` or put them in a file
# readable only by you (chmod 600) and point PICAS_ENV_FILE at it. Never write a password here.
set -euo pipefail
if [ -n "\${PICAS_ENV_FILE:-}" ]; then
  set -a
  # shellcheck disable=SC1090
  . "\${PICAS_ENV_FILE}"
  set +a
fi
# PICAS_WORKER_CMD lets a launcher point at a picas-worker that is not on PATH.
# exec: the worker gets Slurm's SIGTERM (time limit, scancel) directly and puts running tokens back.
exec \${PICAS_WORKER_CMD:-picas-worker} "$@"
`;
}
