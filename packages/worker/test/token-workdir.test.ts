import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel } from '@picas/testkit';
import { getToken, poolDatabase, pushTokens, tempDir, worker } from './helpers.js';

const db = await poolDatabase(fileLabel(import.meta.url));
const { couch } = db;

function outOf(doc: Awaited<ReturnType<typeof getToken>>, stream: 'out' | 'err' = 'out'): string {
  return Buffer.from(doc._attachments![`logs_${doc._id}.${stream}`]!.data!, 'base64').toString();
}

test('tokens run where the pilot was started, so relative paths work; each has a scratch directory of its own', async () => {
  const here = tempDir();
  writeFileSync(join(here, 'simulate'), '#!/bin/bash\necho "simulated $*"\n');
  chmodSync(join(here, 'simulate'), 0o755);
  await pushTokens(couch, [
    ['rel_1', './simulate --seed 1 > result_1.txt; pwd; echo "$PICAS_TOKEN_DIR"; test -d "$PICAS_TOKEN_DIR"; touch "$PICAS_TOKEN_DIR/scratch"'],
  ]);
  const tmp = tempDir();
  const r = await worker(db, ['--worker-id', 'rel-pilot'], { cwd: here, env: { TMPDIR: tmp } });
  assert.equal(r.exitCode, 0, r.stderr);
  const tok = await getToken(couch, 'rel_1', { attachments: true });
  assert.equal(tok.exit_code, 0, outOf(tok, 'err'));
  const [cwd, tokenDir] = outOf(tok).trim().split('\n');
  assert.equal(cwd, realpathSync(here));
  assert.ok(tokenDir!.startsWith(join(tmp, 'picas-rel-pilot')), `the scratch directory is under $TMPDIR/picas-<worker>: ${tokenDir}`);
  assert.ok(existsSync(join(here, 'result_1.txt')), 'the relative output path is in the pilot\'s directory');
  assert.deepEqual(readdirSync(tmp), [], 'scratch directories are removed');
});

test('--workdir is where tokens run; --isolate runs each in its scratch directory; --keep-token-dirs keeps them', async () => {
  const runHere = tempDir();
  await pushTokens(couch, [['wd_1', 'pwd']]);
  const r = await worker(db, ['--workdir', runHere]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(outOf(await getToken(couch, 'wd_1', { attachments: true })).trim(), realpathSync(runHere));

  await pushTokens(couch, [['iso_1', 'pwd; echo "$PICAS_TOKEN_DIR"; echo kept > kept.txt']]);
  const tmp = tempDir();
  const iso = await worker(db, ['--isolate', '--keep-token-dirs', '--worker-id', 'iso'], { env: { TMPDIR: tmp } });
  assert.equal(iso.exitCode, 0, iso.stderr);
  const [cwd, tokenDir] = outOf(await getToken(couch, 'iso_1', { attachments: true })).trim().split('\n');
  assert.equal(cwd, tokenDir, 'with --isolate the token runs in its scratch directory');
  assert.ok(existsSync(join(tokenDir!, 'kept.txt')), 'kept with --keep-token-dirs');

  const bad = await worker(db, ['--workdir', join(runHere, 'missing')]);
  assert.equal(bad.exitCode, 1);
  assert.match(bad.stderr, /--workdir: '.*missing' is not a directory/);
});
