/**
 * `picas slurm submit|status|cancel`: pilots as a Slurm array job. The job script comes from the one
 * pilot template (examples/slurm/pilot.sh); the CouchDB settings and worker options travel in the
 * environment (`sbatch --export=ALL,<names>`) or in a 0600 env file, never in the script or on a command line.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError, type ConnectionConfig } from '@picas/core';
import { addWorkerOptionFlags, type WorkerValues } from '@picas/launch/worker-option-flags';
import type { PilotWorker } from '@picas/launch/pilot-worker';
import type { SlurmSubmission } from '@picas/launch/sbatch';
import type { SlurmBackendSettings } from '@picas/launch/slurm-backend';
import { connectionFor, note, printJson, say, withCouch } from '../context.js';
import { collect } from '../option-parsers.js';
import { throwIfProblems } from '../usage-problems.js';

export function register(program: Command): void {
  const slurm = program.command('slurm').description('run pilots as Slurm array jobs');

  const submit = slurm
    .command('submit')
    .description('submit pilots as a Slurm array job (one picas-worker per array task); prints the job id')
    .option('--array <spec>', 'array tasks = pilots, e.g. 1-10 or 1-100%10 (at most 10 at once)')
    .option('--time <limit>', 'time limit per pilot, e.g. 01:00:00 (the worker claims only tokens that fit in the time left)')
    .option('--job-name <name>', 'job name (picas slurm status looks for it)', 'picas-pilot')
    .option('--only-if-todo', 'autopilot: submit nothing when no token is waiting (todo, or locked with an expired lease)')
    .option('--dry-run', 'print the job script (stdout) and what would be passed to sbatch (stderr), submit nothing')
    .option('--json', 'print {"jobId", ...} instead of the bare job id');
  addSlurmJobOptions(submit);
  addWorkerOptionFlags(submit);
  submit.addHelpText(
    'after',
    `
Examples:
  picas slurm submit --array 1-10 --time 02:00:00 --partition thin
  picas slurm submit --array 1-4 --time 30:00 --cpus-per-task 4 --lease 10m --dry-run
  picas slurm submit --array 1-20 --time 01:00:00 --only-if-todo      # e.g. from cron (the PiCaS autopilot)

The CouchDB settings (PICAS_URL, PICAS_DB, PICAS_USERNAME, PICAS_PASSWORD) and the worker options reach
the pilots through sbatch's environment (--export=ALL,<names>: names only, values never on a command line),
or through --pilot-env-file. The script itself never contains them.`,
  );
  submit.action(async (opts: Record<string, unknown>, cmd: Command) => {
    const { collectWorkerValues, describePilotEnvironment, SlurmBackend, submitAfterChecks } = await import('@picas/launch');
    const workerValues = collectWorkerValues(opts);
    const connection = connectionFor(cmd);
    const { submission, worker, backendSettings } = await slurmJobFrom(opts, connection, workerValues, { jobName: opts.jobName as string, array: opts.array as string | undefined, time: opts.time as string | undefined });
    const backend = new SlurmBackend(backendSettings);
    // validates every option before anything talks to CouchDB or Slurm
    const plan = backend.plan();

    const checked = await submitAfterChecks(
      { connection, launcher: 'picas slurm', note },
      { onlyIfTodo: !!opts.onlyIfTodo, reclaimExpired: workerValues.reclaimExpired !== false, dryRun: !!opts.dryRun, placement: { computeNodes: 'the compute nodes' } },
      () => backend.submit(),
    );
    if (checked.outcome === 'no-work') {
      if (opts.json) printJson({ jobId: null, submitted: false, todo: 0 });
      return;
    }
    if (checked.outcome === 'dry-run') {
      process.stdout.write(plan.scriptText);
      note(`# dry run: nothing submitted. Would run: sbatch ${plan.sbatchArgs.join(' ')} <this script>`);
      if (plan.envFile) note(`# and first write ${plan.envFile} (mode 0600) with the pilots' settings`);
      if (worker.bundle) note(`# and first copy ${worker.bundle.path} to ${worker.stagedPath}, unless it is there already`);
      note(`# with these variables in sbatch's environment (secrets masked):`);
      for (const line of plan.exportedDescription) note(`#   ${line}`);
      if (plan.envFile) {
        note(`# ${plan.envFile} would hold:`);
        for (const line of describePilotEnvironment(submission.pilot)) note(`#   ${line}`);
      }
      return;
    }
    const result = checked.result;
    if (opts.json) {
      printJson({ jobId: result.jobId, cluster: result.cluster ?? null, array: submission.script.array ?? null, jobName: submission.script.jobName, submitted: true });
    } else {
      say(result.jobId);
    }
    note(
      `picas slurm: submitted ${submission.script.array ? `array job ${result.jobId} (tasks ${submission.script.array})` : `job ${result.jobId}`}` +
        `; follow it with: picas slurm status --jobs ${result.jobId}`,
    );
  });

  slurm
    .command('status')
    .description('the pilots\' states from squeue, next to the token counts')
    .option('--job-name <name>', 'pilot job name', 'picas-pilot')
    .option('--jobs <ids>', 'only these job ids (comma separated), e.g. the id printed by submit')
    .option('--all', 'also show finished pilots (Slurm keeps them for a while)')
    .option('--all-users', 'pilots of every user, not only yours')
    .option('--json', 'machine-readable output')
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const { SlurmBackend, countByState, formatPilotTable, formatTokenCounts } = await import('@picas/launch');
      const { stateCounts } = await import('@picas/core/ops/status');
      const connection = connectionFor(cmd);
      const jobIds = opts.jobs ? String(opts.jobs).split(',').map((s) => s.trim()).filter(Boolean) : undefined;
      if (jobIds?.some((id) => !/^\d+(_\d+)?$/.test(id))) throw new UsageError(`--jobs: '${String(opts.jobs)}' must be job ids like 123 or 123_4, comma separated`);
      const counts = await withCouch(cmd, (couch) => stateCounts(couch));
      const backend = new SlurmBackend({ jobName: opts.jobName as string, allUsers: !!opts.allUsers });
      const jobs = (await backend.list({ jobIds, all: !!opts.all })).map((job) => job.squeue);
      if (opts.json) {
        printJson({ db: connection.db, tokens: counts, pilots: countByState(jobs), jobs });
        return;
      }
      say(`tokens in ${connection.db}: ${formatTokenCounts(counts)}`);
      const byState = Object.entries(countByState(jobs)).map(([s, n]) => `${n} ${s.toLowerCase()}`);
      const which = jobIds ? `jobs ${jobIds.join(',')}` : `job name ${String(opts.jobName)}`;
      if (jobs.length === 0) {
        say(`pilots (${which}): none${opts.all ? '' : ' queued or running (add --all to see finished ones)'}`);
        return;
      }
      say(`pilots (${which}): ${byState.join(', ')}`);
      for (const line of formatPilotTable(jobs)) say(`  ${line}`);
    });

  slurm
    .command('cancel')
    .description('cancel pilots (scancel): each gets SIGTERM and puts its running tokens back to todo')
    .argument('[job-ids...]', 'job ids to cancel (default: all your pilots with --job-name)')
    .option('--job-name <name>', 'pilot job name', 'picas-pilot')
    .action(async (ids: string[], opts: Record<string, unknown>) => {
      const { SlurmBackend } = await import('@picas/launch');
      if (ids.some((id) => !/^\d+(_\d+)?$/.test(id))) throw new UsageError(`job ids must look like 123 or 123_4, got: ${ids.join(' ')}`);
      await new SlurmBackend({ jobName: opts.jobName as string }).cancel({ jobIds: ids });
      note(ids.length ? `picas slurm: cancelled ${ids.join(' ')}` : `picas slurm: cancelled your ${String(opts.jobName)} jobs`);
    });
}

/** The pilot job's options (all but --array, --time and --job-name), shared by `picas slurm submit` and `picas autoscale`. */
export function addSlurmJobOptions(command: Command): Command {
  return command
    .option('--partition <name>', 'Slurm partition')
    .option('--account <name>', 'Slurm account to charge')
    .option('--cpus-per-task <n>', 'CPUs per pilot: the cores it packs tokens into (it finds them by itself; docs/resources.md)')
    .option('--gpus <n>', 'GPUs per pilot (#SBATCH --gpus), e.g. 2 or a100:1; the pilot finds them by itself and hands them out to tokens that ask for GPUs (env PICAS_PILOT_GPUS overrides what it finds)')
    .option('--mem <size>', 'memory per pilot (#SBATCH --mem), e.g. 16G; the pilot finds it by itself and counts it out to tokens that ask for memory (env PICAS_PILOT_MEM overrides what it finds)')
    .option('--output <pattern>', 'pilot log file (%A array job id, %a task id, %j job id)')
    .option('--error <pattern>', 'pilot stderr file (default: with --output)')
    .option('--chdir <dir>', 'the jobs\' working directory (default: the current directory)')
    .option('--sbatch-option <option>', 'any other sbatch option, e.g. --sbatch-option=--qos=short (repeatable)', collect)
    .option('--pilot-env-file <path>', 'write the pilots\' settings, password included, to this file (mode 0600) and pass only its path (PICAS_ENV_FILE)')
    .option('--worker-command <cmd>', 'how a pilot starts picas-worker (env PICAS_WORKER_CMD; default: this installation\'s picas-worker, else picas-worker from PATH)')
    .option('--stage <dir>', 'copy the self-contained picas-worker into DIR, a directory the compute nodes see, and run it from there with node (for clusters where picas is not installed)')
    .option('--node <path>', 'with --stage: the node that runs it on the compute nodes (default: node from the job\'s PATH)')
    .option('--prelude <commands>', 'shell commands the pilot runs first, e.g. \'module load nodejs/22\' (the script then runs as a login shell)');
}

/**
 * The Slurm submission and backend settings from the options of addSlurmJobOptions (throws UsageError
 * with every problem), for `picas slurm submit` and `picas autoscale --backend slurm`.
 */
export async function slurmJobFrom(
  opts: Record<string, unknown>,
  connection: ConnectionConfig,
  workerValues: WorkerValues,
  job: { jobName: string; array?: string; time?: string; extraDirectives?: readonly string[] },
): Promise<{ submission: SlurmSubmission; worker: PilotWorker; backendSettings: SlurmBackendSettings }> {
  const { choosePilotWorker, kib, pilotEnvironmentWith } = await import('@picas/launch');
  const problems: string[] = [];
  let cpusPerTask: number | undefined;
  if (opts.cpusPerTask !== undefined) {
    cpusPerTask = Number(opts.cpusPerTask);
    if (!Number.isInteger(cpusPerTask) || cpusPerTask < 1) problems.push(`--cpus-per-task: '${String(opts.cpusPerTask)}' must be a whole number of at least 1`);
  }
  const stageDir = opts.stage as string | undefined;
  if (stageDir !== undefined && opts.workerCommand !== undefined) problems.push('--stage: runs the self-contained picas-worker; leave out --worker-command (or --stage)');
  if (stageDir === undefined && opts.node !== undefined) problems.push('--node: applies to the staged picas-worker; give --stage DIR too');
  throwIfProblems(problems);
  const worker = choosePilotWorker({ bundleDir: stageDir === undefined ? undefined : resolve(stageDir), workerCommand: opts.workerCommand as string | undefined, node: opts.node as string | undefined }, problems);
  throwIfProblems(problems);
  const submission: SlurmSubmission = {
    script: {
      jobName: job.jobName,
      array: job.array,
      time: job.time,
      partition: opts.partition as string | undefined,
      account: opts.account as string | undefined,
      cpusPerTask,
      gpus: opts.gpus as string | undefined,
      mem: opts.mem as string | undefined,
      output: opts.output as string | undefined,
      error: opts.error as string | undefined,
      extraDirectives: [...((opts.sbatchOption as string[] | undefined) ?? []), ...(job.extraDirectives ?? [])],
      prelude: opts.prelude as string | undefined,
    },
    pilot: pilotEnvironmentWith(connection, workerValues, worker),
    envFile: opts.pilotEnvFile as string | undefined,
    chdir: opts.chdir as string | undefined,
  };
  const backendSettings: SlurmBackendSettings = {
    submission,
    stage: worker.bundle ? { bundle: worker.bundle, dir: stageDir! } : undefined,
    onStaged: (staged, bundle) => note(staged.copied ? `picas slurm: copied picas-worker (${kib(bundle.bytes.length)}) to ${staged.path}` : `picas slurm: picas-worker is already staged at ${staged.path}`),
  };
  return { submission, worker, backendSettings };
}
