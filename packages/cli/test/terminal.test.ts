/**
 * Behaviour that only shows on a terminal: the push progress bar and the delete confirmation.
 * `script` (util-linux) gives the real `picas` process a pseudo-terminal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { cleanEnv, cliBin, fileLabel, freshDatabase, runCli } from '@picas/testkit';
import { tempDir } from './fixtures.js';

const skip = existsSync('/usr/bin/script') ? false : '/usr/bin/script (util-linux) is missing';
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function onTerminal(args: string[], options: { cwd: string; env: Record<string, string>; input?: string }): Promise<{ exitCode: number | null; stdout: string }> {
  const command = [process.execPath, cliBin, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: options.cwd, env: cleanEnv(options.env) as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, stdout });
    }),
  );
}

test('on a terminal, push draws a progress bar and delete asks before deleting', { skip }, async () => {
  const db = await freshDatabase(fileLabel(import.meta.url));
  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  const dir = tempDir({ 'many.txt': Array.from({ length: 30 }, (_, i) => `echo ${i}`).join('\n') });
  const push = await onTerminal(['push', 'many.txt', '--batch-size', '10'], { cwd: dir, env: db.env });
  assert.equal(push.exitCode, 0, push.stdout);
  assert.match(push.stdout, /pushing \[#{10}\.{20}\]\s+33% 10\/30/);
  assert.match(push.stdout, /pushing \[#{30}\] 100% 30\/30/);
  assert.match(push.stdout, /pushed 30 tokens, 0 already present/);

  const declined = await onTerminal(['delete', '--state', 'todo'], { cwd: dir, env: db.env, input: 'n\n' });
  assert.equal(declined.exitCode, 0, declined.stdout);
  assert.match(declined.stdout, /delete 30 tokens \(todo\) from .* as admin\? \[y\/N\]/);
  assert.match(declined.stdout, /nothing was deleted/);

  const accepted = await onTerminal(['delete', '--state', 'todo'], { cwd: dir, env: db.env, input: 'y\n' });
  assert.equal(accepted.exitCode, 0, accepted.stdout);
  assert.match(accepted.stdout, /deleted 30 tokens/);
});
