/**
 * What every command needs: the validated connection config (flags > env > .env > config file > default),
 * an open CouchDB handle, and output helpers. Notices (e.g. "using the embedded server") are said once, on stderr.
 */
import type { Command } from 'commander';
import { describeUnknownName, loadConnectionConfig, loadLayers, openCouch, unknownPicasNames, type ConnectionConfig, type Couch } from '@picas/core';
import { KNOWN_PICAS_NAMES } from './known-env-names.js';

export interface GlobalOptions {
  url?: string;
  db?: string;
  username?: string;
  password?: string;
  config?: string;
}

let noticesShown = false;
let unknownNamesShown = false;

/** Passwords this process learned (e.g. decrypted from conf.yml), scrubbed from any error it prints. */
export const knownSecrets: string[] = [];

/**
 * The connection config from the root program's global options (validated once; every problem at once).
 * Said once, before any error: unknown `PICAS_*` variables (likely typos), a `.env` value that replaces a
 * different one from the config file, and the notices (e.g. "using the embedded server").
 */
export function connectionFor(command: Command): ConnectionConfig {
  const flags = command.optsWithGlobals() as GlobalOptions;
  const ctx = { flags: { url: flags.url, db: flags.db, username: flags.username, password: flags.password, config: flags.config } };
  const layers = loadLayers(ctx);
  if (!unknownNamesShown) {
    for (const unknown of unknownPicasNames(layers, KNOWN_PICAS_NAMES)) note(`picas: warning: ${describeUnknownName(unknown)}`);
    unknownNamesShown = true;
  }
  const { config, notices, warnings } = loadConnectionConfig(ctx, layers);
  if (config.password) knownSecrets.push(config.password);
  if (!noticesShown) {
    for (const w of warnings) note(`picas: warning: ${w}`);
    for (const n of notices) note(`picas: ${n}`);
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
