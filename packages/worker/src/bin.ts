#!/usr/bin/env node
/**
 * `picas-worker`: the pilot. Options come from flags, PICAS_* env vars, `.env` in the working directory and
 * the config file (see options.ts); everything is validated once and every problem is reported at once.
 *
 * Exit codes: 0 normal (also after a handled SIGTERM/SIGINT), 1 bad configuration, 2 CouchDB unreachable
 * (after --retry-for), 3 authentication failed; a second signal exits at once (130/143).
 */
import {
  connectionSettings,
  createLogger,
  describeConnection,
  describeForUser,
  ExitCode,
  loadLayers,
  openCouch,
  redactText,
  resolveConnection,
  type SettingSpec,
} from '@picas/core';
import { statSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { WORKER_NODE_FLAGS } from './node-flags.js';
import { resolveWorkerOptions, workerSettings } from './options.js';
import { detectPilot, pilotConnections } from './pilot-capacity.js';
import { summaryLine } from './summary.js';
import { Worker } from './worker.js';
import { newWorkerId, shortHostname } from './worker-id.js';
import { workerVersion } from './worker-version.js';

// keep flags (a password) out of `ps`
process.title = 'picas-worker';
// a signal during start-up (before the pilot holds anything) is a clean stop: exit 0, as after a handled signal
let startupSignal: ((signal: NodeJS.Signals) => void) | undefined = (signal) => {
  process.stderr.write(`picas-worker: received ${signal} during start-up; nothing claimed, exiting\n`);
  process.exit(ExitCode.ok);
};
const onStartupSignal = (signal: NodeJS.Signals) => startupSignal?.(signal);
process.on('SIGTERM', onStartupSignal);
process.on('SIGINT', onStartupSignal);
// started as `node bin.js` without the pilot's node options: set them now (see node-flags.ts)
for (const flag of WORKER_NODE_FLAGS) {
  const name = flag.split('=')[0]!;
  if (!process.execArgv.some((a) => a.split('=')[0] === name)) setFlagsFromString(flag);
}

function describeOption(spec: SettingSpec): string {
  const parts = [spec.description];
  if (spec.choices) parts.push(`(one of: ${spec.choices.join(', ')})`);
  parts.push(`[env ${spec.env.join(' or ')}]`);
  if (spec.default !== undefined) parts.push(`[default: ${String(spec.default)}]`);
  if (spec.type === 'duration') parts.push('(duration: 90, 90s, 5m, 2h)');
  return parts.join(' ');
}

function optionTable(): Record<string, { type: 'string' | 'boolean'; describe: string; group: string; requiresArg?: boolean }> {
  const table: Record<string, { type: 'string' | 'boolean'; describe: string; group: string; requiresArg?: boolean }> = {};
  for (const spec of connectionSettings) table[spec.flag.slice(2)] = { type: 'string', describe: describeOption(spec), group: 'CouchDB:', requiresArg: true };
  table.config = { type: 'string', describe: 'YAML config file [env PICAS_CONFIG] [default: ~/.config/picas/conf.yml if present]', group: 'CouchDB:', requiresArg: true };
  for (const spec of workerSettings) {
    const boolean = spec.type === 'boolean';
    table[spec.flag.slice(2)] = { type: boolean ? 'boolean' : 'string', describe: describeOption(spec), group: 'Worker:', ...(boolean ? {} : { requiresArg: true }) };
  }
  return table;
}

/**
 * The flags. A pilot launched by `picas launch`, Slurm or FirecREST gets its settings from PICAS_* env
 * vars and has no arguments: there is nothing to parse then, and yargs (a large share of the start-up
 * time, paid once per pilot) is not loaded.
 */
async function parseFlags(args: string[]): Promise<{ argv?: Record<string, unknown>; usageError?: string }> {
  if (args.length === 0) return { argv: {} };
  const { default: yargs } = await import('yargs');
  let usageError: string | undefined;
  const argv = await yargs(args)
    .scriptName('picas-worker')
    .usage('$0 [options]\n\nClaims tokens from a picas/PiCaS CouchDB database and runs each one\'s input as `bash -c "$input"`.\nWith no options it drains the pool once and exits 0. --version (-V) shows the version.')
    .options(optionTable())
    .strict()
    .version(false)
    .help()
    .alias('help', 'h')
    .wrap(Math.min(120, process.stdout.columns || 100))
    .epilogue(
      'Exit codes: 0 ok (also after a handled SIGTERM/SIGINT), 1 bad configuration, 2 CouchDB unreachable, 3 authentication failed.\n' +
        'A first SIGTERM/SIGINT stops claiming and requeues (or fails, --on-signal fail) the running tokens; a second exits at once.',
    )
    .exitProcess(false)
    .fail((message, err) => {
      usageError = message ?? err?.message ?? 'invalid arguments';
    })
    .parseAsync();
  return usageError ? { usageError } : { argv };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--version') || args.includes('-V')) {
    process.stdout.write(`picas-worker ${workerVersion()} (node ${process.versions.node})\n`);
    return ExitCode.ok;
  }
  const { argv, usageError } = await parseFlags(args);
  if (usageError || !argv) {
    process.stderr.write(`picas-worker: ${usageError}\nRun picas-worker --help for the options.\n`);
    return ExitCode.usage;
  }
  if (argv.help) return ExitCode.ok;

  const flags: Record<string, unknown> = {};
  for (const spec of [...connectionSettings, ...workerSettings]) if (argv[spec.key] !== undefined) flags[spec.key] = argv[spec.key];
  const layers = loadLayers({ flags: { config: argv.config as string | undefined }, env: process.env });
  const workerLayers = { flags, env: layers.env, dotenv: layers.dotenv, dotenvName: layers.dotenvName, file: layers.file, fileName: layers.fileName };
  const connection = resolveConnection({ flags, env: process.env }, layers);
  const worker = resolveWorkerOptions(workerLayers);
  const problems = [...new Set([...connection.errors, ...worker.errors])];
  const workdir = worker.options?.workdir;
  if (workdir !== undefined && !isDirectory(workdir)) problems.push(`--workdir: '${workdir}' is not a directory (it is where tokens run)`);
  const secrets = [connection.config?.password, process.env.PICAS_PASSWORD, flags.password as string | undefined].filter((s): s is string => !!s);
  if (problems.length > 0 || !connection.config || !worker.options) {
    const text = problems.length === 1 ? problems[0]! : `invalid configuration (${problems.length} problems)\n${problems.map((p) => `  - ${p}`).join('\n')}`;
    process.stderr.write(redactText(`picas-worker: ${text}\n`, secrets));
    return ExitCode.usage;
  }
  const options = worker.options;
  const workerId = newWorkerId(options.workerId);
  const log = createLogger({ level: options.logLevel, format: options.logFormat, secrets }).child({ worker: workerId });
  for (const notice of connection.notices) log.info(notice);
  log.info({ couchdb: describeConnection(connection.config) }, 'connecting');

  // what the pilot has, found once: the connection pool is sized for it, and the Worker packs tokens into it
  const setup = detectPilot(options, process.env, log);
  const couch = openCouch(connection.config, { connections: pilotConnections(setup) });
  const pilot = new Worker({ couch, options, log, workerId, hostname: shortHostname(), env: process.env, pilot: setup });
  let signals = 0;
  /** the longest a second signal waits for the pilot's record to say stopped */
  const ABANDON_RECORD_MS = 2000;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      pilot.stop(`received ${signal}`);
      return;
    }
    const code = signal === 'SIGINT' ? 130 : 143;
    if (signals > 2) {
      // a third: no waiting for the record either
      pilot.killAll();
      process.exit(code);
    }
    const reason = `second ${signal}: exiting at once; running tokens stay locked until their lease expires`;
    log.warn(reason);
    // its record says stopped before it goes, within ABANDON_RECORD_MS at most
    const exit = () => {
      pilot.killAll();
      process.exit(code);
    };
    setTimeout(exit, ABANDON_RECORD_MS).unref();
    void pilot.abandon(reason).then(exit, exit);
  };
  startupSignal = undefined;
  process.off('SIGTERM', onStartupSignal);
  process.off('SIGINT', onStartupSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const summary = await pilot.run();
    log.info(
      {
        summary: true,
        done: summary.done,
        failed: summary.failed,
        requeued: summary.requeued,
        lost: summary.lost,
        claimed: summary.claimed,
        taken: summary.taken,
        wall_s: Math.round(summary.wallMs / 100) / 10,
        peak_rss_mb: summary.peakRssMb,
        cpu_ms: summary.cpuMs,
        commands_cpu_ms: summary.commandsCpuMs,
        http_requests: summary.httpRequests,
        claims: summary.claims,
        claim_latency_ms: summary.claimLatencyMs,
        completions: summary.completions,
        unconfirmed: summary.unconfirmed,
        stop_reason: summary.stopReason,
      },
      summaryLine(summary),
    );
    process.stdout.write(summaryLine(summary) + '\n');
    return ExitCode.ok;
  } catch (err) {
    const { exitCode, text } = describeForUser(err);
    log.error({ err }, redactText(text, secrets));
    process.stderr.write(`picas-worker: ${redactText(text, secrets)}\n`);
    return exitCode;
  } finally {
    await couch.close();
  }
}

const code = await main();
process.exitCode = code;
// every timer and connection has been stopped; this only guards against a stray handle keeping us alive
setTimeout(() => process.exit(code), 3000).unref();
