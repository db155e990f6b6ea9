/**
 * The environment a pilot needs, built in one place for every launcher (local, Slurm, FirecREST):
 * the CouchDB connection plus the worker options as their PICAS_* env twins.
 */
import type { ConnectionConfig } from '@picas/core';
import { workerEnv, type WorkerOptions } from '@picas/worker/options';

export interface PilotEnvironment {
  env: Record<string, string>;
  /** keys of `env` that hold secrets: never print them, never write them into a script */
  secretKeys: string[];
}

export function pilotEnvironment(
  connection: ConnectionConfig,
  workerValues: Partial<Record<keyof WorkerOptions, string | number | boolean | undefined>> = {},
  options: { workerCommand?: string } = {},
): PilotEnvironment {
  const env: Record<string, string> = { PICAS_URL: connection.url, PICAS_DB: connection.db, ...workerEnv(workerValues) };
  const secretKeys: string[] = [];
  if (connection.username) env.PICAS_USERNAME = connection.username;
  if (connection.password !== undefined) {
    env.PICAS_PASSWORD = connection.password;
    secretKeys.push('PICAS_PASSWORD');
  }
  if (options.workerCommand) env.PICAS_WORKER_CMD = options.workerCommand;
  return { env, secretKeys };
}
