/**
 * The environment a pilot needs, built in one place for every launcher (local, Slurm, FirecREST):
 * the CouchDB connection plus the worker options as their PICAS_* env twins (from the worker's option
 * table, so a new worker option needs no change here).
 *
 * Secrets travel only in the environment or in a 0600 env file, never in a script or on a command line.
 */
import { chmodSync, closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { shellQuote, type ConnectionConfig } from '@picas/core';
import { workerEnv, type WorkerOptions } from '@picas/worker/options';

export interface PilotEnvironment {
  env: Record<string, string>;
  /** keys of `env` that hold secrets: never print them, never write them into a script */
  secretKeys: string[];
}

export function pilotEnvironment(
  connection: ConnectionConfig,
  workerValues: Partial<Record<keyof WorkerOptions, string | number | boolean | undefined>> = {},
  options: { workerCommand?: string; workerBundle?: string; node?: string } = {},
): PilotEnvironment {
  const env: Record<string, string> = { PICAS_URL: connection.url, PICAS_DB: connection.db, ...workerEnv(workerValues) };
  const secretKeys: string[] = [];
  if (connection.username) env.PICAS_USERNAME = connection.username;
  if (connection.password !== undefined) {
    env.PICAS_PASSWORD = connection.password;
    secretKeys.push('PICAS_PASSWORD');
  }
  if (options.workerCommand) env.PICAS_WORKER_CMD = options.workerCommand;
  // a staged self-contained picas-worker (worker-bundle.ts), run by the pilot script with PICAS_NODE
  if (options.workerBundle) env.PICAS_WORKER_BUNDLE = options.workerBundle;
  if (options.node) env.PICAS_NODE = options.node;
  return { env, secretKeys };
}

/** `NAME=value` lines for display, with every secret shown as `***`. */
export function describePilotEnvironment(pilot: PilotEnvironment): string[] {
  return Object.entries(pilot.env).map(([name, value]) => `${name}=${pilot.secretKeys.includes(name) ? '***' : value}`);
}

/** The text of an env file that the pilot script sources (`set -a; . "$PICAS_ENV_FILE"`). */
export function envFileText(env: Record<string, string>): string {
  const lines = ['# picas pilot environment: sourced by the pilot script (PICAS_ENV_FILE). Keep it chmod 600.'];
  for (const [name, value] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not an environment variable name: ${name}`);
    lines.push(`${name}=${shellQuote(value)}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Writes the env file readable only by its owner (0600 from the first byte: a temp file created with
 * that mode, then renamed over the target), so the password is never readable by others, not even briefly.
 */
export function writeEnvFile(path: string, env: Record<string, string>): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, envFileText(env));
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
