import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { EMBEDDED_DEFAULT_PORT, embeddedStatePath, processAlive, readEmbeddedState, UsageError, type EmbeddedState } from '@picas/core';
import type { GlobalOptions } from '../context.js';
import { say } from '../context.js';
import { portOption } from '../option-parsers.js';
import { loadEmbeddedServer } from '../embedded-server-module.js';

interface ServerFlags {
  port: number;
  dataDir: string;
  inMemory?: boolean;
}

/** Where a data directory keeps the admin password picas generated for it, so a restart can log in again. */
const ADMIN_FILE = 'picas-admin.json';

export function register(program: Command): void {
  program
    .command('server')
    .description('run the embedded CouchDB-compatible server (with Fauxton at /_utils) on 127.0.0.1')
    .option('--port <port>', 'port; 0 picks a free one', portOption, EMBEDDED_DEFAULT_PORT)
    .option('--data-dir <dir>', 'where the databases are kept', join('.picas', 'data'))
    .option('--in-memory', 'keep the databases in memory only (lost when the server stops)')
    .addHelpText(
      'after',
      `\nIt creates an admin (user admin; password from PICAS_PASSWORD, else generated and kept in the data dir)\nand writes .picas/server.json (mode 0600), so picas commands run in this directory find it.\nCtrl-C stops it.\n\nExamples:\n  picas server\n  picas server --port 0 --in-memory`,
    )
    .action(async (flags: ServerFlags, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      const statePath = embeddedStatePath();
      const running = readEmbeddedState();
      if (running?.pid && running.pid !== process.pid && processAlive(running.pid)) {
        throw new UsageError(`a picas server is already running from this directory (pid ${running.pid}, ${running.url}); stop it first`);
      }
      const dataDir = flags.inMemory ? undefined : resolve(flags.dataDir);
      const admin = adminFor(dataDir, globals);
      const { startEmbeddedServer } = await loadEmbeddedServer();
      let server;
      try {
        server = await startEmbeddedServer({ port: flags.port, inMemory: flags.inMemory, dataDir, admin });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') {
          throw new UsageError(`port ${flags.port} is already in use (another CouchDB or picas server?): choose another with --port, or --port 0 for a free one`, { cause: err });
        }
        if (/different admin/.test((err as Error).message)) {
          throw new UsageError(`${dataDir} already has an admin '${admin.username}' with another password: set PICAS_PASSWORD to it, or use another --data-dir`, { cause: err });
        }
        throw err;
      }
      const state: EmbeddedState & { fauxton: string; dataDir?: string } = { url: server.url, username: admin.username, password: admin.password, pid: process.pid, fauxton: server.fauxtonUrl, dataDir };
      writeState(statePath, state);

      const shown = relative(process.cwd(), statePath) || statePath;
      say(`picas server listening on ${server.url} (${dataDir ? `data in ${dataDir}` : 'in memory: the data is lost when it stops'})`);
      say(`Fauxton: ${server.fauxtonUrl} (log in as ${admin.username}; ${admin.fromUser ? 'with your PICAS_PASSWORD' : `the password is in ${shown}`})`);
      say(`picas commands run in ${process.cwd()} use this server (via ${shown}). Press Ctrl-C to stop.`);

      await new Promise<void>((resolveStop) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          // a second Ctrl-C while closing stops at once
          process.once('SIGINT', () => process.exit(130));
          resolveStop();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      // a watchdog, in case something keeps the process alive after the server closed
      setTimeout(() => process.exit(process.exitCode ?? 0), 5000).unref();
      try {
        await server.close();
      } finally {
        if (readEmbeddedState()?.pid === process.pid) rmSync(statePath, { force: true });
      }
      say('picas server stopped');
    });
}

/** The admin to create: --username/--password or PICAS_USERNAME/PICAS_PASSWORD, else admin with a generated password. */
function adminFor(dataDir: string | undefined, globals: GlobalOptions): { username: string; password: string; fromUser: boolean } {
  const username = globals.username ?? process.env.PICAS_USERNAME ?? 'admin';
  const given = globals.password ?? process.env.PICAS_PASSWORD;
  if (given) return { username, password: given, fromUser: true };
  if (!dataDir) return { username, password: randomBytes(18).toString('base64url'), fromUser: false };
  const file = join(dataDir, ADMIN_FILE);
  if (existsSync(file)) {
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { username?: string; password?: string };
      if (saved.username === username && saved.password) return { username, password: saved.password, fromUser: false };
    } catch {
      // unreadable: fall through and make a new one (the server then reports a different admin)
    }
  }
  const password = randomBytes(18).toString('base64url');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writePrivate(file, JSON.stringify({ username, password }) + '\n');
  return { username, password, fromUser: false };
}

function writeState(path: string, state: object): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writePrivate(path, JSON.stringify(state, null, 2) + '\n');
}

/** Writes a file only its owner can read, atomically (never a moment with looser permissions). */
function writePrivate(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}
