/**
 * The picas-worker options, offered on every launcher command (`picas launch local`, `picas slurm submit`,
 * `picas firecrest submit`) straight from the worker's option table, so an option added there works
 * everywhere. The launcher validates them like the worker does, then passes them to the pilots as
 * their PICAS_* env twins (see pilot-env.ts).
 *
 * Works with a commander `Command` without depending on commander: anything with `.option()` will do.
 */
import { UsageError, type SettingSpec } from '@picas/core';
import { resolveWorkerOptions, workerSettings, type WorkerOptions } from '@picas/worker/options';

/** What a launcher passes on: the option values the user gave, as typed (e.g. `lease: '2m'`). */
export type WorkerValues = Partial<Record<keyof WorkerOptions, string | number | boolean>>;

export interface OptionTarget {
  option(flags: string, description?: string): unknown;
  /** the options already defined (commander's `Command.options`) */
  readonly options?: ReadonlyArray<{ long?: string }>;
}

/**
 * Options that make no sense when one command starts many pilots: a worker id must be unique per
 * pilot (each pilot makes its own: host-pid-random).
 */
const PER_PROCESS_KEYS = new Set(['workerId']);

export const launcherWorkerSettings: readonly SettingSpec[] = workerSettings.filter((s) => !PER_PROCESS_KEYS.has(s.key));

function valueName(spec: SettingSpec): string {
  switch (spec.type) {
    case 'duration':
      return '<duration>';
    case 'int':
      return '<n>';
    case 'number':
      return '<x>';
    case 'enum':
      return `<${spec.choices?.join('|') ?? 'value'}>`;
    default:
      return '<value>';
  }
}

function helpFor(spec: SettingSpec): string {
  const dflt = spec.default === undefined ? '' : `, default: ${String(spec.default)}`;
  return `worker: ${spec.description} (env ${spec.env[0]}${dflt})`;
}

/**
 * Adds every launcher-relevant worker option to `command`. A flag the command already defines for
 * itself is left alone (the launcher's meaning wins), so a new worker option can never break a launcher.
 */
export function addWorkerOptionFlags<T extends OptionTarget>(command: T): T {
  const taken = new Set((command.options ?? []).map((o) => o.long));
  for (const spec of launcherWorkerSettings) {
    if (taken.has(spec.flag)) continue;
    if (spec.type === 'boolean') {
      command.option(spec.flag, helpFor(spec));
      // a flag that is on by default also gets its --no- form, e.g. --no-reclaim-expired
      if (spec.default === true) command.option(`--no-${spec.flag.slice(2)}`, `worker: turn ${spec.flag} off`);
    } else {
      command.option(`${spec.flag} ${valueName(spec)}`, helpFor(spec));
    }
  }
  return command;
}

/**
 * The worker options present in a command's parsed options (commander camelCases `--token-timeout` to
 * `tokenTimeout`, the table's key). Every value is checked as the worker would check it; all problems
 * are reported at once, naming the flag.
 */
export function collectWorkerValues(parsed: Record<string, unknown>): WorkerValues {
  const flags: Record<string, unknown> = {};
  for (const spec of launcherWorkerSettings) {
    if (parsed[spec.key] !== undefined) flags[spec.key] = parsed[spec.key];
  }
  // the worker's own validation (types, ranges, --claim-quorum, --prefetch), on the flags given here only
  const checked = resolveWorkerOptions({ flags });
  if (checked.errors.length > 0) {
    const n = checked.errors.length;
    throw new UsageError(n === 1 ? `invalid worker option ${checked.errors[0]}` : `invalid worker options (${n} problems)`, { problems: checked.errors });
  }
  const values: WorkerValues = {};
  for (const [key, value] of Object.entries(flags)) {
    values[key as keyof WorkerOptions] = typeof value === 'boolean' || typeof value === 'number' ? value : String(value);
  }
  return values;
}
