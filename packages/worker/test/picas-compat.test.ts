import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileLabel } from '@picas/testkit';
import type { TokenDoc } from '@picas/core';
import { getToken, monitorCounts, poolDatabase, pushTokens, worker } from './helpers.js';

/** A token exactly as PiCaS' examples/pushTokens.py writes it: no picas fields at all. */
function picasToken(n: number, input: string): TokenDoc {
  return { _id: `token_${n}`, type: 'token', lock: 0, done: 0, hostname: '', scrub_count: 0, input, exit_code: '', output: {}, error: [] } as TokenDoc;
}

test('tokens made with the PiCaS schema are processed, and the PiCaS views classify them afterwards', async () => {
  const db = await poolDatabase(fileLabel(import.meta.url));
  const { couch } = db;
  await pushTokens(couch, [
    picasToken(0, 'echo "$PICAS_TOKEN_ID"'),
    picasToken(1, 'exit 2'),
    picasToken(2, 'echo two'),
    // finished by Python PiCaS before: left alone
    { ...picasToken(3, 'echo old'), lock: 1700000000, done: 1700000100, exit_code: 0, hostname: 'old-node' },
    { ...picasToken(4, 'echo old'), lock: 1700000000, done: 1700000100, exit_code: 1, hostname: 'old-node' },
    // locked by a Python PiCaS pilot (no lease): never taken over by a picas pilot
    { ...picasToken(5, 'echo running elsewhere'), lock: 1700000000, hostname: 'picas-node', slurm_job_id: '42' },
    // not a token
    { _id: 'notes', type: 'note', lock: 0, done: 0 } as unknown as TokenDoc,
  ]);
  assert.deepEqual(await monitorCounts(couch), { todo: 3, locked: 1, done: 1, error: 1 });

  const r = await worker(db, [], { env: { SLURM_JOB_ID: '99', PATH: `/nonexistent:${process.env.PATH}` } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 2, failed 1,/);
  assert.deepEqual(await monitorCounts(couch), { todo: 0, locked: 1, done: 3, error: 2 });

  const view = async (name: string) =>
    (await couch.http.expectOk<{ rows: Array<{ id: string; key: string; value: string }> }>({ path: couch.http.dbPath(`/_design/Monitor/_view/${name}`) })).rows;
  assert.deepEqual((await view('done')).map((row) => row.id).sort(), ['token_0', 'token_2', 'token_3']);
  assert.deepEqual((await view('error')).map((row) => row.id).sort(), ['token_1', 'token_4']);
  assert.deepEqual((await view('locked')).map((row) => [row.id, row.key, row.value]), [['token_5', 'token_5', 'token_5']]);

  const ok = await getToken(couch, 'token_0');
  // PiCaS' fields, with PiCaS' types
  assert.equal(typeof ok.lock, 'number');
  assert.ok(Number.isInteger(ok.lock) && ok.lock > 1_600_000_000, 'lock is an epoch second');
  assert.ok(Number.isInteger(ok.done) && ok.done >= ok.lock, 'done is an epoch second');
  assert.equal(ok.exit_code, 0);
  assert.equal(ok.hostname.length > 0, true);
  assert.equal(ok.scrub_count, 0);
  assert.equal(ok.slurm_job_id, '99', 'the PiCaS job-id field');
  assert.deepEqual(ok.output, {});
  assert.deepEqual(Object.keys(ok._attachments!).sort(), ['logs_token_0.err', 'logs_token_0.out']);
  const failed = await getToken(couch, 'token_1');
  assert.equal(failed.exit_code, 2);
  assert.equal(failed.error!.length, 1);
  assert.equal(typeof failed.error![0]!.time, 'number');
  assert.equal(typeof failed.error![0]!.message, 'string');
  const untouched = await getToken(couch, 'token_3');
  assert.equal(untouched.hostname, 'old-node');
  assert.equal(untouched.attempts, undefined);
});
