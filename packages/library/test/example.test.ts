/**
 * examples/library runs as written: primes.mjs, in a folder of its own where `picas` is the library package
 * (as `npm install picas` leaves it), against a pool made with `picas init`; it pushes its 20 tokens, its
 * pilot counts the primes below 1,000,000 (78,498), and the tokens hold the results and log lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cleanEnv, fileLabel, repoRoot, scratchDir } from '@picas/testkit';
import { attachmentText, initPool, readDoc } from './pool-setup.js';

test('examples/library/primes.mjs pushes 20 tokens and its function pilot drains them', { timeout: 180_000 }, async () => {
  const { db } = await initPool(fileLabel(import.meta.url));
  const dir = scratchDir('picas-library-example-');
  cpSync(join(repoRoot, 'examples/library'), dir, { recursive: true });
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(join(repoRoot, 'packages/library'), join(dir, 'node_modules', 'picas'), 'dir');

  const run = () => execa(process.execPath, ['primes.mjs'], { cwd: dir, env: cleanEnv(db.env), extendEnv: false, reject: false, timeout: 150_000 });
  const first = await run();
  assert.equal(first.exitCode, 0, first.stderr);
  assert.match(first.stdout, /^pushed 20 tokens, 0 already present$/m);
  assert.match(first.stdout, /: done 20, failed 0, requeued 0$/m);
  assert.match(first.stdout, /^primes found by this pilot: 78498$/m);
  assert.match(first.stdout, /^pool: todo 0, locked 0, done 20, error 0$/m);

  const { rows } = await db.couch.http.expectOk<{ rows: Array<{ id: string }> }>({ path: db.couch.http.dbPath('/_all_docs') });
  const id = rows.map((r) => r.id).find((i) => i.startsWith('token_'))!;
  const token = await readDoc(db, id);
  assert.equal(token.output.primes > 0 && token.output.to - token.output.from, 50_000);
  assert.match(await attachmentText(db, id, `logs_${id}.out`), new RegExp(`^${token.output.primes} primes in \\[${token.output.from}, ${token.output.to}\\) on core\\(s\\) \\d\n$`));

  const again = await run();
  assert.equal(again.exitCode, 0, again.stderr);
  assert.match(again.stdout, /^pushed 0 tokens, 20 already present$/m);
  assert.match(again.stdout, /: done 0, failed 0, requeued 0$/m);
});
