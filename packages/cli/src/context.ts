/**
 * What every command needs: the validated connection config (flags > env > .env > config file > default),
 * an open CouchDB handle, and output helpers. Notices (e.g. "using the embedded server") are said once, on stderr.
 */
import type { Command } from 'commander';
import { loadConnectionConfig, openCouch, type ConnectionConfig, type Couch } from '@picas/core';

export interface GlobalOptions {
  url?: string;
  db?: string;
  username?: string;
  password?: string;
  config?: string;
}

let noticesShown = false;

/** Passwords this process learned (e.g. decrypted from conf.yml), scrubbed from any error it prints. */
export const knownSecrets: string[] = [];

/** The connection config from the root program's global options (validated once; every problem at once). */
export function connectionFor(command: Command): ConnectionConfig {
  const flags = command.optsWithGlobals() as GlobalOptions;
  const { config, notices } = loadConnectionConfig({
    flags: { url: flags.url, db: flags.db, username: flags.username, password: flags.password, config: flags.config },
  });
  if (config.password) knownSecrets.push(config.password);
  if (!noticesShown) {
    for (const n of notices) process.stderr.write(`picas: ${n}\n`);
    noticesShown = true;
  }
  return config;
}

/** Opens the database for a command and always closes it afterwards. */
export async function withCouch<T>(command: Command, fn: (couch: Couch) => Promise<T>): Promise<T> {
  const couch = openCouch(connectionFor(command));
  try {
    return await fn(couch);
  } finally {
    await couch.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function say(line: string): void {
  process.stdout.write(line + '\n');
}

/** Diagnostics and progress go to stderr so that stdout stays parseable. */
export function note(line: string): void {
  process.stderr.write(line + '\n');
}
