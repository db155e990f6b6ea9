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
import { loadLayers, redactUrl, sleep, UsageError, type ConnectionConfig } from '@picas/core';
import type { FirecrestClient, FirecrestConfig, FirecrestJob, PilotRecord } from '@picas/firecrest';
import { addWorkerOptionFlags, type OptionTarget } from '@picas/launch/worker-option-flags';
import type { WorkerBundle } from '@picas/launch/worker-bundle';
import { connectionFor, note, printJson, say, withCouch } from '../context.js';
import { collect, durationOption, positiveCountOption } from '../option-parsers.js';
import { formatTable } from '../table.js';

interface FirecrestFlags {
  firecrestUrl?: string;
  authTokenUrl?: string;
  clientId?: string;
  system?: string;
  account?: string;
  stateFile?: string;
  json?: boolean;
}

/** The FirecREST connection options every subcommand takes. */
function addFirecrestOptions(command: Command): Command {
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
    .option('--workdir <dir>', 'the jobs\' working directory on the cluster, absolute; created if missing (env PICAS_FIRECREST_WORKDIR)')
    .option('--token-workdir <dir>', 'worker: parent of the per-token working directories on the cluster (the worker\'s --workdir, env PICAS_WORKDIR)')
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

interface Resolved {
  config?: FirecrestConfig;
  problems: string[];
}

async function firecrestConfigFrom(opts: FirecrestFlags, options: { requireSystem?: boolean; credentials?: boolean }): Promise<Resolved> {
  const { resolveFirecrestConfig } = await import('@picas/firecrest');
  const layers = loadLayers({});
  const flags = { firecrestUrl: opts.firecrestUrl, authTokenUrl: opts.authTokenUrl, clientId: opts.clientId, system: opts.system, account: opts.account };
  const result = resolveFirecrestConfig({ flags, env: process.env, dotenv: layers.dotenv, dotenvName: layers.dotenvName }, options);
  return { config: result.config, problems: result.errors };
}

function failIfProblems(problems: string[]): void {
  if (problems.length === 0) return;
  throw new UsageError(problems.length === 1 ? problems[0]! : `invalid configuration (${problems.length} problems)`, { problems });
}

async function stateFileFor(opts: FirecrestFlags): Promise<string> {
  const { defaultPilotStatePath } = await import('@picas/firecrest');
  return opts.stateFile ?? process.env.PICAS_FIRECREST_STATE ?? defaultPilotStatePath();
}

async function openClient(config: FirecrestConfig): Promise<FirecrestClient> {
  const { FirecrestClient } = await import('@picas/firecrest');
  return new FirecrestClient({
    url: config.url,
    auth: config,
    onRetry: (info) => note(`picas firecrest: ${info.request}: ${info.reason}; trying again in ${(info.delayMs / 1000).toFixed(1)} s`),
  });
}

function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}

// ---- submit ----

async function submitPilots(opts: Record<string, unknown>, cmd: Command): Promise<void> {
  const { adminPilotWarning, collectWorkerValues, pilotEnvironment, pilotScriptProblems, renderPilotScript, resolveWorkerCommand, describePilotEnvironment, pendingWork, tokenCounts, formatTokenCounts, nodeCommandProblem, readWorkerBundle } =
    await import('@picas/launch');
  const { addPilots } = await import('@picas/firecrest');
  const flags = opts as FirecrestFlags & Record<string, unknown>;
  const dryRun = opts.dryRun === true;
  const problems: string[] = [];

  // every problem at once: FirecREST settings, CouchDB settings, job options, worker options
  const { config, problems: configProblems } = await firecrestConfigFrom(flags, { requireSystem: true, credentials: !dryRun });
  problems.push(...configProblems);
  const dotenv = loadLayers({}).dotenv ?? {};
  const workdir = (opts.workdir as string | undefined) ?? process.env.PICAS_FIRECREST_WORKDIR ?? dotenv.PICAS_FIRECREST_WORKDIR;
  if (!workdir) problems.push('--workdir is not set: the jobs\' working directory on the cluster, an absolute path (or PICAS_FIRECREST_WORKDIR)');
  else if (!workdir.startsWith('/')) problems.push(`--workdir: '${workdir}' must be an absolute path on the cluster`);
  let connection: ConnectionConfig | undefined;
  try {
    connection = connectionFor(cmd);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    problems.push(...err.problems);
  }
  const scriptOptions = {
    jobName: opts.jobName as string,
    time: opts.time as string | undefined,
    partition: opts.partition as string | undefined,
    account: config?.account,
    extraDirectives: (opts.sbatchOption as string[] | undefined) ?? [],
    prelude: opts.prelude as string | undefined,
  };
  problems.push(...pilotScriptProblems(scriptOptions));
  // the pilots run the self-contained picas-worker, uploaded to the working directory, unless told otherwise
  const explicitWorker = (opts.workerCommand as string | undefined) ?? process.env.PICAS_WORKER_CMD;
  let bundle: WorkerBundle | undefined;
  if (explicitWorker === undefined || explicitWorker.trim() === '') {
    const nodeProblem = nodeCommandProblem(opts.node as string | undefined);
    if (nodeProblem) problems.push(nodeProblem);
    try {
      bundle = readWorkerBundle();
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      problems.push(err.message);
    }
  } else if (opts.node !== undefined) {
    problems.push('--node: applies to the uploaded picas-worker; with --worker-command put the node into that command');
  }
  let workerValues = {};
  try {
    workerValues = collectWorkerValues({ ...opts, workdir: opts.tokenWorkdir });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    problems.push(...err.problems);
  }
  failIfProblems(problems);

  // with --worker-command, the pilots start that (this machine's paths mean nothing on the cluster)
  const worker = bundle ? undefined : resolveWorkerCommand({ explicit: opts.workerCommand as string | undefined, preferPath: true });
  const stagedPath = bundle ? `${workdir!.replace(/\/+$/, '')}/${bundle.stagedName}` : undefined;
  const pilot = pilotEnvironment(connection!, workerValues, {
    workerCommand: worker && worker.source !== 'path' ? worker.commandLine : undefined,
    workerBundle: stagedPath,
    node: bundle ? (opts.node as string | undefined) : undefined,
  });
  const script = renderPilotScript(scriptOptions);
  const system = config!.system!;
  const count = opts.count as number;
  const job = {
    script,
    workingDirectory: workdir!,
    // PICAS_LAUNCHER: the pilot records say how the pilot was started (see worker pilot-record.ts)
    env: { ...pilot.env, PICAS_LAUNCHER: `firecrest ${system}` },
    name: scriptOptions.jobName,
    account: config!.account,
    partition: scriptOptions.partition,
  };

  if (isLoopback(connection!.url) && config && !isLoopback(config.url)) {
    note(`picas firecrest: warning: the pilots will connect to CouchDB at ${redactUrl(connection!.url)}, which is this machine; set PICAS_URL to an address the compute nodes of ${system} can reach`);
  }

  const adminWarning = await adminPilotWarning(connection!);
  if (adminWarning) note(`picas firecrest: ${adminWarning}`);

  if (dryRun) {
    process.stdout.write(script);
    note(`# dry run: nothing submitted. Would submit ${count} job${count === 1 ? '' : 's'} on system ${system} with:`);
    note(`#   workingDirectory=${job.workingDirectory} name=${job.name}${job.account ? ` account=${job.account}` : ''}${job.partition ? ` partition=${job.partition}` : ''}`);
    for (const line of describePilotEnvironment(pilot)) note(`#   env ${line}`);
    if (bundle) note(`# and first upload ${bundle.path} (${kib(bundle.bytes.length)}) as ${stagedPath}, unless it is there already`);
    return;
  }

  if (opts.onlyIfTodo) {
    const work = await withCouch(cmd, (couch) => pendingWork(couch, { includeExpiredLeases: (workerValues as { reclaimExpired?: boolean }).reclaimExpired !== false }));
    if (work.todo === 0 && work.expiredLeases === 0) {
      note(`picas firecrest: no tokens waiting in ${connection!.db} (todo 0, no expired leases): nothing submitted`);
      if (opts.json) printJson({ jobIds: [], submitted: false, todo: 0 });
      return;
    }
  } else {
    // fail before submitting pilots that would all fail: the database must exist and accept our login
    const counts = await withCouch(cmd, (couch) => tokenCounts(couch));
    note(`picas firecrest: tokens in ${connection!.db}: ${formatTokenCounts(counts)}`);
  }

  const stateFile = await stateFileFor(flags);
  const client = await openClient(config!);
  const jobIds: string[] = [];
  let uploaded = false;
  try {
    await client.mkdir(system, workdir!, { parent: true });
    if (bundle) uploaded = await stageBundle(client, system, workdir!, bundle);
    for (let i = 0; i < count; i++) {
      let jobId: string;
      try {
        jobId = await client.submitJob(system, job);
      } catch (err) {
        if (jobIds.length > 0) note(`picas firecrest: ${jobIds.length} of ${count} pilots were submitted before the failure: ${jobIds.join(' ')}`);
        throw err;
      }
      jobIds.push(jobId);
      const record: PilotRecord = {
        jobId,
        system,
        firecrestUrl: config!.url,
        name: job.name,
        workingDirectory: job.workingDirectory,
        submittedAt: new Date().toISOString(),
        database: `${redactUrl(connection!.url)}/${connection!.db}`,
      };
      addPilots(stateFile, [record]);
      if (!opts.json) say(jobId);
    }
  } finally {
    await client.close();
  }
  if (opts.json) {
    const workerBundle = bundle ? { path: stagedPath, bytes: bundle.bytes.length, uploaded } : undefined;
    printJson({ jobIds, system, workingDirectory: workdir, stateFile, submitted: true, ...(workerBundle ? { workerBundle } : {}) });
  }
  note(`picas firecrest: submitted ${count} pilot${count === 1 ? '' : 's'} on ${system}: ${jobIds.join(' ')}; follow them with: picas firecrest status`);
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

/**
 * Uploads the self-contained picas-worker into the working directory as picas-worker-<sha8>.mjs, unless a
 * file of that name and size is there already (the name is the content's hash). True when it uploaded.
 */
async function stageBundle(client: FirecrestClient, system: string, workdir: string, bundle: WorkerBundle): Promise<boolean> {
  const { isFirecrestNotFound } = await import('@picas/firecrest');
  const remote = `${workdir.replace(/\/+$/, '')}/${bundle.stagedName}`;
  try {
    const [entry] = await client.ls(system, remote);
    if (entry && entry.type === '-' && Number(entry.size) === bundle.bytes.length) {
      note(`picas firecrest: picas-worker is already on ${system} (${remote})`);
      return false;
    }
  } catch (err) {
    if (!isFirecrestNotFound(err)) throw err;
  }
  await client.upload(system, workdir, bundle.stagedName, bundle.bytes);
  note(`picas firecrest: uploaded picas-worker (${kib(bundle.bytes.length)}) to ${remote}`);
  return true;
}

// ---- status ----

interface PilotView {
  record: PilotRecord;
  state: string;
  rawState: string;
  exitCode?: number;
}

async function showStatus(opts: Record<string, unknown>, cmd: Command): Promise<void> {
  const { readPilots, updatePilots, isFinalJobState, isFirecrestNotFound } = await import('@picas/firecrest');
  const { tokenCounts, formatTokenCounts } = await import('@picas/launch');
  const flags = opts as FirecrestFlags;
  const { config, problems } = await firecrestConfigFrom(flags, { requireSystem: false });
  let connection: ConnectionConfig | undefined;
  try {
    connection = connectionFor(cmd);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    problems.push(...err.problems);
  }
  failIfProblems(problems);
  const stateFile = await stateFileFor(flags);
  const finalState = (s: string | undefined) => s === 'NOT_FOUND' || (s !== undefined && isFinalJobState(s as FirecrestJob['state']));

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const client = await openClient(config!);
  try {
    for (;;) {
      const all = readPilots(stateFile);
      const here = all.filter((p) => p.firecrestUrl === config!.url && (!flags.system || p.system.toLowerCase() === flags.system.toLowerCase()));
      const elsewhere = all.filter((p) => p.firecrestUrl !== config!.url).length;
      const shown = here.filter((p) => opts.all || !finalState(p.lastState));
      const views: PilotView[] = [];
      for (const record of shown) {
        if (finalState(record.lastState)) {
          views.push({ record, state: record.lastState!, rawState: record.lastState!, exitCode: record.exitCode });
          continue;
        }
        try {
          const job = await client.job(record.system, record.jobId, { submittedAt: Date.parse(record.submittedAt), signal: stop.signal });
          views.push({ record, state: job.state, rawState: job.rawState, exitCode: job.exitCode });
        } catch (err) {
          if (stop.signal.aborted) return;
          if (!isFirecrestNotFound(err)) throw err;
          views.push({ record, state: 'NOT_FOUND', rawState: 'not found (finished long ago, or never started)' });
        }
      }
      // remember what was seen, so finished pilots are not asked about again
      if (views.length > 0) {
        const seen = new Map(views.map((v) => [`${v.record.system} ${v.record.jobId}`, v]));
        updatePilots(stateFile, (pilots) => pilots.map((p) => {
          const v = p.firecrestUrl === config!.url ? seen.get(`${p.system} ${p.jobId}`) : undefined;
          return v ? { ...p, lastState: v.state, exitCode: v.exitCode } : p;
        }));
      }
      const counts = await withCouch(cmd, (couch) => tokenCounts(couch, stop.signal));
      const finished = views.every((v) => finalState(v.state));
      if (opts.json) {
        printJson({
          db: connection!.db,
          tokens: counts,
          pilots: views.map((v) => ({ jobId: v.record.jobId, system: v.record.system, name: v.record.name, state: v.state, rawState: v.rawState, exitCode: v.exitCode ?? null, submittedAt: v.record.submittedAt, workingDirectory: v.record.workingDirectory })),
        });
      } else {
        say(`tokens in ${connection!.db}: ${formatTokenCounts(counts)}`);
        if (views.length === 0) {
          say(`pilots: none${here.length > 0 && !opts.all ? ' still running (add --all to see finished ones)' : ` remembered in ${stateFile}`}`);
        } else {
          const byState = new Map<string, number>();
          for (const v of views) byState.set(v.state, (byState.get(v.state) ?? 0) + 1);
          say(`pilots: ${[...byState].map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ')}`);
          const rows = [['JOBID', 'SYSTEM', 'NAME', 'STATE', 'EXIT', 'SUBMITTED'], ...views.map((v) => [v.record.jobId, v.record.system, v.record.name, v.rawState, v.exitCode === undefined || !finalState(v.state) ? '' : String(v.exitCode), v.record.submittedAt])];
          for (const line of formatTable(rows).split('\n')) say(`  ${line}`);
        }
        if (elsewhere > 0) note(`picas firecrest: ${elsewhere} pilot(s) submitted to another FIRECREST_URL are not shown`);
      }
      if (!opts.wait || finished || stop.signal.aborted) return;
      await sleep(opts.interval as number, stop.signal);
      if (stop.signal.aborted) return;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await client.close();
  }
}

// ---- cancel ----

async function cancelPilots(ids: string[], opts: Record<string, unknown>): Promise<void> {
  const { readPilots, isFinalJobState } = await import('@picas/firecrest');
  const flags = opts as FirecrestFlags;
  if (ids.length === 0 && !opts.all) throw new UsageError('give the job ids to cancel, or --all for every remembered pilot that has not finished');
  if (ids.length > 0 && opts.all) throw new UsageError('give either job ids or --all, not both');
  const badIds = ids.filter((id) => !/^\d+$/.test(id));
  const { config, problems } = await firecrestConfigFrom(flags, { requireSystem: false });
  if (badIds.length > 0) problems.push(`job ids must be numbers, got: ${badIds.join(' ')}`);
  failIfProblems(problems);
  const pilots = readPilots(await stateFileFor(flags)).filter((p) => p.firecrestUrl === config!.url);

  let targets: Array<{ jobId: string; system: string; submittedAt?: number }>;
  if (opts.all) {
    targets = pilots
      .filter((p) => !flags.system || p.system.toLowerCase() === flags.system.toLowerCase())
      .filter((p) => !(p.lastState === 'NOT_FOUND' || (p.lastState && isFinalJobState(p.lastState as FirecrestJob['state']))))
      .map((p) => ({ jobId: p.jobId, system: p.system, submittedAt: Date.parse(p.submittedAt) }));
  } else {
    const missingSystem: string[] = [];
    targets = ids.map((id) => {
      const known = pilots.find((p) => p.jobId === id && (!flags.system || p.system.toLowerCase() === flags.system.toLowerCase()));
      const system = known?.system ?? config!.system;
      if (!system) missingSystem.push(id);
      return { jobId: id, system: system ?? '', submittedAt: known ? Date.parse(known.submittedAt) : undefined };
    });
    if (missingSystem.length > 0) throw new UsageError(`job ${missingSystem.join(' ')}: not a remembered pilot, so give its system (--system or FIRECREST_SYSTEM)`);
  }
  if (targets.length === 0) {
    note('picas firecrest: no unfinished pilots to cancel');
    return;
  }

  const client = await openClient(config!);
  const failures: string[] = [];
  try {
    for (const target of targets) {
      if (opts.all) {
        // skip pilots that finished since the last status
        const job = await client.job(target.system, target.jobId, { submittedAt: target.submittedAt }).catch(() => undefined);
        if (job && isFinalJobState(job.state)) continue;
      }
      try {
        await client.cancelJob(target.system, target.jobId);
        say(`cancelled ${target.jobId}`);
      } catch (err) {
        failures.push(`${target.jobId}: ${(err as Error).message}`);
      }
    }
  } finally {
    await client.close();
  }
  if (failures.length > 0) {
    const { FirecrestError } = await import('@picas/firecrest');
    throw new FirecrestError(failures.length === 1 ? `cannot cancel job ${failures[0]}` : `cannot cancel ${failures.length} jobs: ${failures.join('; ')}`);
  }
}
