import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gitCommit } from '@picas/core/build-stamp';
import { fileLabel, repoRoot, runCli } from '@picas/testkit';
import { poolDatabase, pushTokens, worker } from './helpers.js';

const db = await poolDatabase(fileLabel(import.meta.url));

const TEXT_LINE = /^\d\d:\d\d:\d\d (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) \S/;

test('--log-format text (or PICAS_LOG_FORMAT=text): one line per event, time, level, message, key=value pairs', async () => {
  await pushTokens(db.couch, [['txt_1', 'echo hi'], ['txt_2', 'exit 4']]);
  const r = await worker(db, ['--log-format', 'text']);
  assert.equal(r.exitCode, 0, r.stderr);
  const lines = r.stderr.trim().split('\n');
  for (const line of lines) assert.match(line, TEXT_LINE);
  assert.ok(lines.some((l) => / INFO done .*token=txt_1.*exit_code=0/.test(l)), r.stderr);
  assert.ok(lines.some((l) => / WARN failed .*token=txt_2.*exit_code=4/.test(l)), r.stderr);
  assert.match(r.stdout, /done 1, failed 1/);

  const empty = await worker(db, [], { env: { PICAS_LOG_FORMAT: 'text' } });
  assert.equal(empty.exitCode, 0, empty.stderr);
  for (const line of empty.stderr.trim().split('\n')) assert.match(line, TEXT_LINE);
  // piped, without the option: JSON lines
  const json = await worker(db, []);
  for (const line of json.stderr.trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), line);

  const bad = await worker(db, ['--log-format', 'pretty']);
  assert.equal(bad.exitCode, 1);
  assert.match(bad.stderr, /log-format/);
});

test('--version: picas-worker and picas print the version of their package.json, and the git commit of a git checkout', async () => {
  const version = (pkg: string) => (JSON.parse(readFileSync(join(repoRoot, 'packages', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  const w = await worker(db, ['--version']);
  assert.equal(w.exitCode, 0, w.stderr);
  assert.match(w.stdout, new RegExp(`^picas-worker ${version('worker').replace(/\./g, '\\.')} `));
  const c = await runCli(['--version']);
  assert.equal(c.exitCode, 0, c.stderr);
  const commit = gitCommit(repoRoot) ? ' \\(commit [0-9a-f]{7,}\\)' : '';
  assert.match(c.stdout.trim(), new RegExp(`^${version('cli').replace(/\./g, '\\.')}${commit}$`));
});
