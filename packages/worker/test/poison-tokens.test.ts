import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileLabel } from '@picas/testkit';
import { newToken } from '@picas/core';
import { getToken, poolDatabase, pushTokens, worker } from './helpers.js';

const db = await poolDatabase(fileLabel(import.meta.url));
const { couch } = db;

function outOf(doc: Awaited<ReturnType<typeof getToken>>, stream: 'out' | 'err' = 'out'): string {
  return Buffer.from(doc._attachments![`logs_${doc._id}.${stream}`]!.data!, 'base64').toString();
}

test('an input of 300 KiB runs (not spawn E2BIG), as a script file; its text is in PICAS_TOKEN_INPUT_FILE', async () => {
  const filler = 'x'.repeat(300 * 1024);
  const input = `: '${filler}'\necho "big ran"; test -z "\${PICAS_TOKEN_INPUT+set}" && wc -c < "$PICAS_TOKEN_INPUT_FILE"`;
  await pushTokens(couch, [['big_1', input]]);
  const r = await worker(db, []);
  assert.equal(r.exitCode, 0, r.stderr);
  const tok = await getToken(couch, 'big_1', { attachments: true });
  assert.equal(tok.exit_code, 0, outOf(tok, 'err'));
  assert.equal(outOf(tok), `big ran\n${Buffer.byteLength(input)}\n`);
});

test('a token with a NUL byte in its input (pushed straight to CouchDB) ends in error with the reason', async () => {
  await pushTokens(couch, [['nul_1', 'echo before\u0000after']]);
  const r = await worker(db, []);
  assert.equal(r.exitCode, 0, r.stderr);
  const tok = await getToken(couch, 'nul_1');
  assert.equal(tok.lock > 0 && tok.done > 0, true, 'not left locked');
  assert.equal(tok.exit_code, 127);
  assert.match(tok.error!.at(-1)!.message!, /NUL byte/);
});

test('a token whose pilots died 3 times and more is not run again when reclaimed: it ends in error with the reason', async () => {
  const past = Math.floor(Date.now() / 1000) - 600;
  const events = [1, 2, 3].map((n) => ({ time: past + n, event: 'lease_expired', message: `lease of ghost-${n} expired` }));
  const poison = { ...newToken('poison_1', 'echo ran > ran.txt'), lock: past, lease_until: past + 60, worker_id: 'ghost-4', claim_id: 'ghost-4-x', attempts: 4, scrub_count: 3, events };
  await pushTokens(couch, [poison]);
  const r = await worker(db, []);
  assert.equal(r.exitCode, 0, r.stderr);
  const tok = await getToken(couch, 'poison_1');
  assert.ok(tok.done > 0, 'not left locked');
  assert.equal(tok.exit_code, 127);
  assert.match(tok.error!.at(-1)!.message!, /not run again: its lease expired 4 times/);
});
