/**
 * `picas firecrest submit|status|cancel`: pilots submitted through FirecREST v2 (CSCS's REST API to HPC
 * clusters). The job script is the one pilot template (as for `picas slurm submit`); the CouchDB settings
 * and worker options travel in the job's `env`, never in the script. Submitted pilots are remembered in
 * a local state file (`.picas/firecrest-pilots.json`, mode 0600, no secrets) for `status` and `cancel`.
 *
 * FirecREST settings: FIRECREST_URL, FIRECREST_CLIENT_ID, FIRECREST_CLIENT_SECRET, AUTH_TOKEN_URL,
 * FIRECREST_SYSTEM, FIRECREST_ACCOUNT (flags > env > .env; the secret only from env or .env).
 */
import type { Command } from 'commander';
import { isLoopbackUrl, loadLayers, sleep, UsageError, type ConnectionConfig } from '@picas/core';
import type { FirecrestConfig } from '@picas/firecrest';
import { addWorkerOptionFlags, type OptionTarget, type WorkerValues } from '@picas/launch/worker-option-flags';
import type { FirecrestBackend, FirecrestBackendSettings, FirecrestSubmission } from '@picas/launch/firecrest-backend';
import type { PilotWorker } from '@picas/launch/pilot-worker';
import { connectionFor, note, printJson, say, withCouch } from '../context.js';
import { collect, durationOption, positiveCountOption } from '../option-parsers.js';
import { formatTable } from '../table.js';
import { throwIfProblems } from '../usage-problems.js';

interface FirecrestFlags {
  firecrestUrl?: string;
  authTokenUrl?: string;
  clientId?: string;
  system?: string;
  account?: string;
  stateFile?: string;
  json?: boolean;
}

/** The FirecREST connection options every subcommand (and `picas autoscale`) takes. */
export function addFirecrestOptions(command: Command): Command {
  return command
    .option('--system <name>', 'the cluster, as FirecREST names it (env FIRECREST_SYSTEM)')
    .option('--firecrest-url <url>', 'FirecREST API address (env FIRECREST_URL)')
    .option('--auth-token-url <url>', 'OIDC token endpoint (env AUTH_TOKEN_URL)')
    .option('--client-id <id>', 'FirecREST API client id (env FIRECREST_CLIENT_ID; the secret only from env FIRECREST_CLIENT_SECRET or .env)')
    .option('--state-file <path>', 'where submitted pilots are remembered (env PICAS_FIRECREST_STATE; default .picas/firecrest-pilots.json)');
}

export function register(program: Command): void {
  const firecrest = program
    .command('firecrest')
    .description('run pilots through FirecREST v2 (REST access to an HPC cluster): submit, status, cancel');

  const submit = firecrest
    .command('submit')
    .description('submit N pilot jobs through FirecREST (one picas-worker each); prints their job ids')
    .option('-n, --count <n>', 'how many pilot jobs', positiveCountOption, 1)
    .option('--account <name>', 'project to charge (env FIRECREST_ACCOUNT)')
    .option('--partition <name>', 'Slurm partition')
    .option('--time <limit>', 'time limit per pilot, e.g. 01:00:00 (an #SBATCH line: FirecREST jobs have no time field)')
    .option('--cpus-per-task <n>', 'CPUs per pilot (#SBATCH --cpus-per-task): the cores it packs tokens into (docs/resources.md)')
    .option('--gpus <n>', 'GPUs per pilot (#SBATCH --gpus), e.g. 2 or a100:1; the pilot finds them by itself (env PICAS_PILOT_GPUS overrides what it finds)')
    .option('--mem <size>', 'memory per pilot (#SBATCH --mem), e.g. 16G; the pilot finds it by itself (env PICAS_PILOT_MEM overrides what it finds)')
    .option('--workdir <dir>', 'the jobs\' working directory on the cluster, absolute; created if missing (env PICAS_FIRECREST_WORKDIR)')
    .option('--token-workdir <dir>', 'worker: where tokens run on the cluster (the worker\'s --workdir, env PICAS_WORKDIR; default: the job\'s working directory, --workdir)')
    .option('--job-name <name>', 'job name', 'picas-pilot')
    .option('--sbatch-option <option>', 'any other #SBATCH option, e.g. --sbatch-option=--qos=short (repeatable)', collect)
    .option('--worker-command <cmd>', 'how a pilot starts a picas-worker installed on the cluster (env PICAS_WORKER_CMD; default: upload the self-contained picas-worker to --workdir and run it with node)')
    .option('--node <path>', 'the node that runs the uploaded picas-worker on the cluster (default: node from the job\'s PATH)')
    .option('--prelude <commands>', 'shell commands the pilot runs first, e.g. \'module load nodejs/22\' (the script then runs as a login shell)')
    .option('--only-if-todo', 'autopilot: submit nothing when no token is waiting')
    .option('--dry-run', 'print the job script (stdout) and the job fields (stderr, secrets masked); submit nothing')
    .option('--json', 'print {"jobIds": [...], ...}');
  addFirecrestOptions(submit);
  // the worker's --workdir is offered as --token-workdir: here --workdir is the job's working directory
  const workerOptionTarget: OptionTarget = {
    option: (flags: string, description?: string) => (flags.startsWith('--workdir ') ? submit : submit.option(flags, description)),
    // the launcher's own flags (--gpus, --mem: #SBATCH lines) win over the worker's
    options: submit.options,
  };
  addWorkerOptionFlags(workerOptionTarget);
  submit.addHelpText(
    'after',
    `
Examples:
  export FIRECREST_URL=https://api.cscs.ch/hpc/firecrest/v2 AUTH_TOKEN_URL=https://auth.cscs.ch/auth/realms/firecrest-clients/protocol/openid-connect/token
  export FIRECREST_CLIENT_ID=... FIRECREST_CLIENT_SECRET=... FIRECREST_SYSTEM=daint
  picas firecrest submit -n 4 --time 02:00:00 --workdir /capstor/scratch/cscs/$USER/picas
  picas firecrest status
  picas firecrest cancel --all

The CouchDB settings (PICAS_URL, PICAS_DB, PICAS_USERNAME, PICAS_PASSWORD) and the worker options reach the
pilots in the FirecREST job's env (sent over HTTPS, exported by sbatch); the script never contains them.
PICAS_URL must be an address the compute nodes can reach.`,
  );
  submit.action(async (opts: Record<string, unknown>, cmd: Command) => {
    await submitPilots(opts, cmd);
  });

  const status = firecrest
    .command('status')
    .description('the submitted pilots\' states from FirecREST, next to the token counts')
    .option('--all', 'also show pilots already seen finished')
    .option('--wait', 'poll until every pilot shown has finished')
    .option('--interval <duration>', 'with --wait: time between polls', durationOption, 10_000)
    .option('--json', 'machine-readable output');
  addFirecrestOptions(status);
  status.action(async (opts: Record<string, unknown>, cmd: Command) => {
    await showStatus(opts, cmd);
  });

  const cancel = firecrest
    .command('cancel')
    .description('cancel pilots: each gets SIGTERM and puts its running tokens back to todo')
    .argument('[job-ids...]', 'job ids to cancel')
    .option('--all', 'cancel every remembered pilot that has not finished');
  addFirecrestOptions(cancel);
  cancel.action(async (ids: string[], opts: Record<string, unknown>) => {
    await cancelPilots(ids, opts);
  });
}

// ---- configuration ----

async function firecrestConfigFrom(opts: FirecrestFlags, options: { requireSystem?: boolean; credentials?: boolean }): Promise<{ config?: FirecrestConfig; problems: string[] }> {
  const { resolveFirecrestConfig } = await import('@picas/firecrest');
  const layers = loadLayers({});
  const flags = { firecrestUrl: opts.firecrestUrl, authTokenUrl: opts.authTokenUrl, clientId: opts.clientId, system: opts.system, account: opts.account };
  const result = resolveFirecrestConfig({ flags, env: process.env, dotenv: layers.dotenv, dotenvName: layers.dotenvName }, options);
  return { config: result.config, problems: result.errors };
}

function failIfProblems(problems: string[]): void {
  throwIfProblems(problems, (n) => `invalid configuration (${n} problems)`);
}

/** The CouchDB connection, its problems added to `problems` instead of thrown. */
function connectionOrProblems(cmd: Command, problems: string[]): ConnectionConfig | undefined {
  try {
    return connectionFor(cmd);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    problems.push(...err.problems);
    return undefined;
  }
}

async function openBackend(flags: FirecrestFlags, config: FirecrestConfig, more: Partial<FirecrestBackendSettings> = {}): Promise<FirecrestBackend> {
  const { defaultPilotStatePath } = await import('@picas/firecrest');
  const { FirecrestBackend } = await import('@picas/launch/firecrest-backend');
  const stateFile = flags.stateFile ?? process.env.PICAS_FIRECREST_STATE ?? defaultPilotStatePath();
  return new FirecrestBackend({ config, stateFile, system: flags.system, note, ...more });
}

// ---- submit ----

/**
 * The FirecREST job from the options of `picas firecrest submit` (also `picas autoscale --backend
 * firecrest`), checked all at once (UsageError with every problem): the submission, and how to open a
 * backend that submits it.
 */
export async function firecrestJobFrom(
  opts: Record<string, unknown>,
  cmd: Command,
  job: { jobName: string; time?: string; extraDirectives?: readonly string[]; workerValues?: WorkerValues; dryRun?: boolean },
): Promise<{ config: FirecrestConfig; connection: ConnectionConfig; worker: PilotWorker; workerValues: WorkerValues; submission: FirecrestSubmission; stateFile: string; open: (submission: FirecrestSubmission, more?: Partial<FirecrestBackendSettings>) => FirecrestBackend; close: () => Promise<void> }> {
  const { choosePilotWorker, collectWorkerValues, pilotEnvironmentWith, pilotScriptProblems } = await import('@picas/launch');
  const { defaultPilotStatePath } = await import('@picas/firecrest');
  const { FirecrestBackend } = await import('@picas/launch/firecrest-backend');
  const flags = opts as FirecrestFlags & Record<string, unknown>;
  const dryRun = job.dryRun === true;
  const problems: string[] = [];

  // every problem at once: FirecREST settings, CouchDB settings, job options, worker options
  const { config, problems: configProblems } = await firecrestConfigFrom(flags, { requireSystem: true, credentials: !dryRun });
  problems.push(...configProblems);
  const dotenv = loadLayers({}).dotenv ?? {};
  const workdir = (opts.workdir as string | undefined) ?? process.env.PICAS_FIRECREST_WORKDIR ?? dotenv.PICAS_FIRECREST_WORKDIR;
  if (!workdir) problems.push('--workdir is not set: the jobs\' working directory on the cluster, an absolute path (or PICAS_FIRECREST_WORKDIR)');
  else if (!workdir.startsWith('/')) problems.push(`--workdir: '${workdir}' must be an absolute path on the cluster`);
  const connection = connectionOrProblems(cmd, problems);
  const script = {
    jobName: job.jobName,
    time: job.time,
    partition: opts.partition as string | undefined,
    cpusPerTask: opts.cpusPerTask === undefined ? undefined : Number(opts.cpusPerTask),
    gpus: opts.gpus as string | undefined,
    mem: opts.mem as string | undefined,
    account: config?.account,
    extraDirectives: [...((opts.sbatchOption as string[] | undefined) ?? []), ...(job.extraDirectives ?? [])],
    prelude: opts.prelude as string | undefined,
  };
  problems.push(...pilotScriptProblems(script));
  // the pilots run the self-contained picas-worker, uploaded to the working directory, unless told otherwise
  const explicitWorker = (opts.workerCommand as string | undefined) ?? process.env.PICAS_WORKER_CMD;
  const useBundle = explicitWorker === undefined || explicitWorker.trim() === '';
  if (!useBundle && opts.node !== undefined) problems.push('--node: applies to the uploaded picas-worker; with --worker-command put the node into that command');
  // with --worker-command, the pilots start that (this machine's paths mean nothing on the cluster);
  // a missing --workdir is a problem already
  const worker = choosePilotWorker({ bundleDir: useBundle ? (workdir ?? '') : undefined, workerCommand: opts.workerCommand as string | undefined, node: opts.node as string | undefined, preferPath: true }, problems);
  let workerValues: WorkerValues = job.workerValues ?? {};
  if (!job.workerValues) {
    try {
      workerValues = collectWorkerValues({ ...opts, workdir: opts.tokenWorkdir });
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      problems.push(...err.problems);
    }
  }
  failIfProblems(problems);
  const stateFile = flags.stateFile ?? process.env.PICAS_FIRECREST_STATE ?? defaultPilotStatePath();
  const opened: FirecrestBackend[] = [];
  return {
    config: config!,
    connection: connection!,
    worker,
    workerValues,
    submission: { system: config!.system!, workdir: workdir!, script, pilot: pilotEnvironmentWith(connection!, workerValues, worker), worker, connection: connection! },
    stateFile,
    open: (submission, more = {}) => {
      const backend = new FirecrestBackend({ config: config!, stateFile, system: submission.system, note, submission, ...more });
      opened.push(backend);
      return backend;
    },
    close: async () => {
      await Promise.all(opened.map((b) => b.close()));
    },
  };
}

async function submitPilots(opts: Record<string, unknown>, cmd: Command): Promise<void> {
  const { submitAfterChecks } = await import('@picas/launch');
  const dryRun = opts.dryRun === true;
  const { config, connection, workerValues, submission, open, close } = await firecrestJobFrom(opts, cmd, { jobName: opts.jobName as string, time: opts.time as string | undefined, dryRun });
  const system = submission.system;
  const count = opts.count as number;
  const backend = open(submission, {
    onSubmitted: (jobId) => {
      if (!opts.json) say(jobId);
    },
  });
  try {
    const checked = await submitAfterChecks(
      { connection: connection!, launcher: 'picas firecrest', note },
      {
        onlyIfTodo: !!opts.onlyIfTodo,
        reclaimExpired: (workerValues as { reclaimExpired?: boolean }).reclaimExpired !== false,
        dryRun,
        placement: { computeNodes: `the compute nodes of ${system}`, mayRunHere: isLoopbackUrl(config!.url) },
      },
      () => backend.submit({ count }),
    );
    if (checked.outcome === 'no-work') {
      if (opts.json) printJson({ jobIds: [], submitted: false, todo: 0 });
      return;
    }
    if (checked.outcome === 'dry-run') {
      const { script: text, notes } = backend.dryRun(count);
      process.stdout.write(text);
      for (const line of notes) note(line);
      return;
    }
    const result = checked.result;
    if (opts.json) {
      const { jobIds, system: on, workingDirectory, stateFile, workerBundle } = result;
      printJson({ jobIds, system: on, workingDirectory, stateFile, submitted: true, ...(workerBundle ? { workerBundle } : {}) });
    }
    note(`picas firecrest: submitted ${count} pilot${count === 1 ? '' : 's'} on ${system}: ${result.jobIds.join(' ')}; follow them with: picas firecrest status`);
  } finally {
    await close();
  }
}

// ---- status ----

async function showStatus(opts: Record<string, unknown>, cmd: Command): Promise<void> {
  const { formatTokenCounts, isFinishedFirecrestState } = await import('@picas/launch');
  const { stateCounts } = await import('@picas/core/ops/status');
  const flags = opts as FirecrestFlags;
  const { config, problems } = await firecrestConfigFrom(flags, { requireSystem: false });
  const connection = connectionOrProblems(cmd, problems);
  failIfProblems(problems);

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const backend = await openBackend(flags, config!);
  try {
    for (;;) {
      const status = await backend.status({ all: !!opts.all, signal: stop.signal });
      if (!status) return;
      const { jobs } = status;
      const counts = await withCouch(cmd, (couch) => stateCounts(couch, { signal: stop.signal }));
      const finished = jobs.every((j) => isFinishedFirecrestState(j.schedulerState));
      if (opts.json) {
        printJson({
          db: connection!.db,
          tokens: counts,
          pilots: jobs.map((j) => ({ jobId: j.jobId, system: j.record.system, name: j.name, state: j.schedulerState, rawState: j.rawState, exitCode: j.exitCode ?? null, submittedAt: j.record.submittedAt, workingDirectory: j.record.workingDirectory })),
        });
      } else {
        say(`tokens in ${connection!.db}: ${formatTokenCounts(counts)}`);
        if (jobs.length === 0) {
          say(`pilots: none${status.remembered > 0 && !opts.all ? ' still running (add --all to see finished ones)' : ` remembered in ${backend.stateFile}`}`);
        } else {
          const byState = new Map<string, number>();
          for (const j of jobs) byState.set(j.schedulerState, (byState.get(j.schedulerState) ?? 0) + 1);
          say(`pilots: ${[...byState].map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ')}`);
          const exit = (j: (typeof jobs)[number]) => (j.exitCode === undefined || !isFinishedFirecrestState(j.schedulerState) ? '' : String(j.exitCode));
          const rows = [['JOBID', 'SYSTEM', 'NAME', 'STATE', 'EXIT', 'SUBMITTED'], ...jobs.map((j) => [j.jobId, j.record.system, j.name, j.rawState, exit(j), j.record.submittedAt])];
          for (const line of formatTable(rows).split('\n')) say(`  ${line}`);
        }
        if (status.elsewhere > 0) note(`picas firecrest: ${status.elsewhere} pilot(s) submitted to another FIRECREST_URL are not shown`);
      }
      if (!opts.wait || finished || stop.signal.aborted) return;
      await sleep(opts.interval as number, stop.signal);
      if (stop.signal.aborted) return;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await backend.close();
  }
}

// ---- cancel ----

async function cancelPilots(ids: string[], opts: Record<string, unknown>): Promise<void> {
  const flags = opts as FirecrestFlags;
  if (ids.length === 0 && !opts.all) throw new UsageError('give the job ids to cancel, or --all for every remembered pilot that has not finished');
  if (ids.length > 0 && opts.all) throw new UsageError('give either job ids or --all, not both');
  const badIds = ids.filter((id) => !/^\d+$/.test(id));
  const { config, problems } = await firecrestConfigFrom(flags, { requireSystem: false });
  if (badIds.length > 0) problems.push(`job ids must be numbers, got: ${badIds.join(' ')}`);
  failIfProblems(problems);
  const backend = await openBackend(flags, config!, { onCancelled: (jobId) => say(`cancelled ${jobId}`) });
  try {
    await backend.cancel({ jobIds: ids });
  } finally {
    await backend.close();
  }
}
