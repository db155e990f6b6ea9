/**
 * Every `picas-worker` option in one table: flag, env twin, type, default and help text.
 * yargs builds `--help` from it, the layered config validates it, and the launchers (local, Slurm,
 * FirecREST) turn a set of values back into `PICAS_*` env vars with `workerEnv`, so an option added here
 * works everywhere.
 */
import { parsePilotResourceFlags, type PilotResourceFlags } from './pilot-resources.js';
import { parsePrefetch, type PrefetchSetting } from './prefetch.js';
import { connectionSettings, resolveSettings, type LogFormat, type SettingLayers, type SettingSpec, type SettingValue } from '@picas/core';

export const workerSettings: readonly SettingSpec[] = [
  { key: 'lease', flag: '--lease', env: ['PICAS_LEASE'], type: 'duration', default: '5m', min: 1000, description: 'lease length; renewed every third of it while a token runs' },
  { key: 'tokenTimeout', flag: '--token-timeout', env: ['PICAS_TOKEN_TIMEOUT'], type: 'duration', description: 'kill a token after this long (SIGTERM to its process group, then SIGKILL); it ends in error' },
  { key: 'killGrace', flag: '--kill-grace', env: ['PICAS_KILL_GRACE'], type: 'duration', default: '10s', description: 'time between SIGTERM and SIGKILL when stopping a token' },
  { key: 'maxTokens', flag: '--max-tokens', env: ['PICAS_MAX_TOKENS'], type: 'int', min: 1, description: 'stop after claiming this many tokens' },
  { key: 'maxTime', flag: '--max-time', env: ['PICAS_MAX_TIME'], type: 'duration', description: 'hard limit on the pilot wall time: at this point stop claiming, stop running tokens and put them back to todo' },
  { key: 'timeBudget', flag: '--time-budget', env: ['PICAS_TIME_BUDGET'], type: 'duration', description: 'time this pilot has (inside Slurm: read from the job end time); a token is claimed only if its expected runtime fits' },
  { key: 'budgetMargin', flag: '--budget-margin', env: ['PICAS_BUDGET_MARGIN'], type: 'duration', default: '30s', description: 'safety margin kept free at the end of the time budget' },
  { key: 'runtimeFactor', flag: '--runtime-factor', env: ['PICAS_RUNTIME_FACTOR'], type: 'number', default: 1.5, min: 0, description: 'expected runtime = token expected_seconds, else this factor x the mean runtime of this pilot\'s finished tokens' },
  { key: 'slots', flag: '--slots', env: ['PICAS_SLOTS'], type: 'int', default: 1, min: 1, description: 'tokens of one core run at once by this pilot (without --cpus: the pilot has this many cores)' },
  { key: 'cpus', flag: '--cpus', env: ['PICAS_PILOT_CPUS'], type: 'string', description: 'cores this pilot packs tokens into: a number, or auto (this machine\'s); default: inside Slurm the allocation\'s, else 1 (or --slots) (docs/resources.md)' },
  { key: 'gpus', flag: '--gpus', env: ['PICAS_PILOT_GPUS'], type: 'string', description: 'GPUs this pilot hands out to tokens: a count (2: GPUs 0,1) or a list of indices (0,1 or 3,); default: CUDA_VISIBLE_DEVICES, inside Slurm SLURM_JOB_GPUS' },
  { key: 'mem', flag: '--mem', env: ['PICAS_PILOT_MEM'], type: 'string', description: 'memory this pilot hands out to tokens (accounted, not enforced): bytes or K/M/G/T like 64G; default: inside Slurm the allocation\'s, else the cgroup limit or the machine\'s' },
  { key: 'pin', flag: '--pin', env: ['PICAS_PIN'], type: 'boolean', default: false, description: 'bind each token to its own cores with taskset -c (needs taskset)' },
  { key: 'reserveAfter', flag: '--reserve-after', env: ['PICAS_RESERVE_AFTER'], type: 'duration', default: '5m', description: 'when a token larger than what is free has waited this long, stop starting smaller tokens until it fits' },
  { key: 'endless', flag: '--endless', env: ['PICAS_ENDLESS'], type: 'boolean', default: false, description: 'keep waiting for new tokens (on _changes, with a polling fallback) instead of stopping when the pool is empty' },
  { key: 'maxScrub', flag: '--max-scrub', env: ['PICAS_MAX_SCRUB'], type: 'int', default: 0, min: 0, description: 'a failed token whose scrub_count is below this goes back to todo' },
  { key: 'onSignal', flag: '--on-signal', env: ['PICAS_ON_SIGNAL'], type: 'enum', choices: ['requeue', 'fail'], default: 'requeue', description: 'on SIGTERM/SIGINT: put running tokens back to todo, or mark them error' },
  { key: 'reclaimExpired', flag: '--reclaim-expired', env: ['PICAS_RECLAIM_EXPIRED'], type: 'boolean', default: true, description: 'also claim locked tokens whose lease expired (their pilot died)' },
  { key: 'maxLogBytes', flag: '--max-log-bytes', env: ['PICAS_MAX_LOG_BYTES'], type: 'int', default: 1_048_576, min: 1024, description: 'per stream; longer logs keep head and tail with a marker in between' },
  { key: 'workdir', flag: '--workdir', env: ['PICAS_WORKDIR'], type: 'string', description: 'where tokens run (their working directory, so that relative paths work as in PiCaS; default: the directory picas-worker was started in). Each token also gets a scratch directory of its own in PICAS_TOKEN_DIR' },
  { key: 'isolate', flag: '--isolate', env: ['PICAS_ISOLATE'], type: 'boolean', default: false, description: 'run each token in its own scratch directory (PICAS_TOKEN_DIR) instead of --workdir' },
  { key: 'keepTokenDirs', flag: '--keep-token-dirs', env: ['PICAS_KEEP_TOKEN_DIRS'], type: 'boolean', default: false, description: 'keep each token\'s scratch directory and log files after it finishes' },
  { key: 'keepWorkdir', flag: '--keep-workdir', env: ['PICAS_KEEP_WORKDIR'], type: 'boolean', default: false, description: 'the old name of --keep-token-dirs' },
  { key: 'window', flag: '--window', env: ['PICAS_WINDOW'], type: 'int', default: 32, min: 1, description: 'todo candidates read per view query; one is picked at random to spread contention' },
  { key: 'pollInterval', flag: '--poll-interval', env: ['PICAS_POLL_INTERVAL'], type: 'duration', default: '5s', description: 'with --endless: how often to look for tokens when the _changes feed is unavailable' },
  { key: 'claimQuorum', flag: '--claim-quorum', env: ['PICAS_CLAIM_QUORUM'], type: 'string', default: 'all', description: 'replicas that must take a claim: "all" (safe: only a 201 from every replica wins) or a number below n (UNSAFE on a cluster: two pilots may run the same token; trades safety for availability when a node is down)' },
  { key: 'prefetch', flag: '--prefetch', env: ['PICAS_PREFETCH'], type: 'string', default: 'auto', description: 'tokens claimed per request: "auto" (adapts: many per request for tokens much shorter than a second, one otherwise) or a number; above 1, one _bulk_docs claims them and the results of a batch share one _bulk_docs write (sent when the pilot claims again, or within 2 s). Only on a single node or with a lowered --claim-quorum (a bulk answer cannot prove a win on every replica); 1 is the strict one-token-at-a-time mode' },
  { key: 'repairInterval', flag: '--repair-interval', env: ['PICAS_REPAIR_INTERVAL'], type: 'duration', default: '10m', description: 'how often (jittered) the pilot repairs tokens left with conflicting revisions; 0 turns it off' },
  { key: 'command', flag: '--command', env: ['PICAS_COMMAND'], type: 'string', description: 'shell command run for every token instead of its input (the input is in PICAS_TOKEN_INPUT, the id in PICAS_TOKEN_ID)' },
  { key: 'retryFor', flag: '--retry-for', env: ['PICAS_RETRY_FOR'], type: 'duration', default: '5m', description: 'keep retrying an unreachable CouchDB (network errors, 5xx) this long before giving up with exit code 2; a pilot that never reached it gives up after 30s unless this is set' },
  { key: 'pilotRecord', flag: '--pilot-record', env: ['PICAS_PILOT_RECORD'], type: 'boolean', default: true, description: 'keep a record of this pilot in the database (pilot:<worker id>: host, job ids, heartbeat, counts, state), for `picas pilots` and `picas dashboard`; --no-pilot-record turns it off' },
  { key: 'workerId', flag: '--worker-id', env: ['PICAS_WORKER_ID'], type: 'string', description: 'id recorded on claimed tokens (default: host-pid-random)' },
  { key: 'logFormat', flag: '--log-format', env: ['PICAS_LOG_FORMAT'], type: 'enum', choices: ['text', 'json'], description: 'log lines as text (one line per event: time, level, message, key=value pairs) or json (pino); default: text on a terminal, json when piped' },
  { key: 'logLevel', flag: '--log-level', env: ['PICAS_LOG_LEVEL'], type: 'enum', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info', description: 'log level' },
];

/** How long a pilot that has never reached CouchDB retries, unless --retry-for is set. */
export const FIRST_CONNECT_MS = 30_000;

export const allWorkerSettings: readonly SettingSpec[] = [...connectionSettings, ...workerSettings];

export interface WorkerOptions {
  lease: number;
  tokenTimeout?: number;
  killGrace: number;
  maxTokens?: number;
  maxTime?: number;
  timeBudget?: number;
  budgetMargin: number;
  runtimeFactor: number;
  slots: number;
  /** --cpus, --gpus, --mem as typed (checked into `pilot`) */
  cpus?: string;
  gpus?: string;
  mem?: string;
  /** --cpus, --gpus, --mem and --slots as given (pilot-resources.ts detects the rest) */
  pilot: PilotResourceFlags;
  pin: boolean;
  reserveAfter: number;
  endless: boolean;
  maxScrub: number;
  onSignal: 'requeue' | 'fail';
  reclaimExpired: boolean;
  maxLogBytes: number;
  /** where tokens run (default: the pilot's working directory) */
  workdir?: string;
  /** each token runs in its own scratch directory */
  isolate: boolean;
  /** keep the tokens' scratch directories (--keep-token-dirs, or its old name --keep-workdir) */
  keepTokenDirs: boolean;
  window: number;
  pollInterval: number;
  /** 'all' or a positive number of replicas */
  claimQuorum: 'all' | number;
  prefetch: PrefetchSetting;
  repairInterval: number;
  command?: string;
  retryFor: number;
  /** how long a pilot that has never reached CouchDB retries: --retry-for when set, else a short 30 s */
  connectFor: number;
  pilotRecord: boolean;
  workerId?: string;
  logFormat?: LogFormat;
  logLevel: string;
}

export function resolveWorkerOptions(layers: SettingLayers): { options?: WorkerOptions; errors: string[] } {
  const r = resolveSettings(workerSettings, layers);
  const errors = [...r.errors];
  const v = r.values as Record<string, SettingValue>;
  let claimQuorum: 'all' | number = 'all';
  if (v.claimQuorum !== undefined && v.claimQuorum !== 'all') {
    const n = Number(v.claimQuorum);
    if (!Number.isInteger(n) || n < 1) errors.push(`--claim-quorum (from ${r.sources.claimQuorum}): '${String(v.claimQuorum)}' must be "all" or a whole number of replicas`);
    else claimQuorum = n;
  }
  const prefetch = parsePrefetch(v.prefetch);
  if (prefetch === undefined) errors.push(`--prefetch (from ${r.sources.prefetch}): '${String(v.prefetch)}' must be "auto" or a whole number of at least 1`);
  const pilot = parsePilotResourceFlags(v, r.sources);
  errors.push(...pilot.problems);
  if (errors.length) return { errors };
  const { keepWorkdir, ...values } = v;
  const keepTokenDirs = v.keepTokenDirs === true || keepWorkdir === true;
  // a misconfigured pilot (wrong URL, no configuration) must not look hung for the whole --retry-for
  const retryFor = v.retryFor as number;
  const connectFor = r.sources.retryFor === 'default' ? Math.min(FIRST_CONNECT_MS, retryFor) : retryFor;
  return { options: { ...(values as unknown as WorkerOptions), keepTokenDirs, connectFor, claimQuorum, prefetch: prefetch!, pilot: pilot.flags }, errors };
}

/**
 * The env vars that give a pilot these option values (the launchers' one way to pass worker options).
 * Only values that differ from the defaults are emitted. Durations are passed in milliseconds as `NNNms`.
 */
export function workerEnv(values: Partial<Record<keyof WorkerOptions, string | number | boolean | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const spec of workerSettings) {
    const value = values[spec.key as keyof WorkerOptions];
    if (value === undefined) continue;
    env[spec.env[0]!] = spec.type === 'duration' && typeof value === 'number' ? `${value}ms` : String(value);
  }
  return env;
}

