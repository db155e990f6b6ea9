#!/usr/bin/env node
/**
 * Runs the embedded server as its own process (used by the test harness and the benchmark):
 *   node main.js [--port N] [--in-memory] [--data-dir DIR]
 * Admin credentials come from PICAS_SERVER_ADMIN_USER / PICAS_SERVER_ADMIN_PASSWORD (never from argv).
 * Prints one JSON line `{"url": ..., "port": ...}` on stdout when ready; stops on SIGTERM/SIGINT.
 */
import { startEmbeddedServer } from './embedded-server.js';

const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const user = process.env.PICAS_SERVER_ADMIN_USER;
const password = process.env.PICAS_SERVER_ADMIN_PASSWORD;
process.title = 'picas-embedded-server';
const server = await startEmbeddedServer({
  port: Number(arg('--port') ?? 0),
  inMemory: args.includes('--in-memory'),
  dataDir: arg('--data-dir'),
  admin: user && password ? { username: user, password } : undefined,
});
process.stdout.write(JSON.stringify({ url: server.url, port: server.port }) + '\n');
let stopping = false;
const stop = () => {
  if (stopping) process.exit(1);
  stopping = true;
  void server.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
