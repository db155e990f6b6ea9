import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel, waitFor } from '@picas/testkit';
import { alive, getToken, injectConflict, leaves, poolDatabase, putToken, pushTokens, readPid, summaryOf, tempDir, worker } from './helpers.js';

const label = fileLabel(import.meta.url);

/** A token that records its pid, waits for a go file (or `seconds`), then prints `finished`. */
function gated(dir: string, seconds = 60): string {
  return `echo $$ > '${dir}/shell.pid'; for i in $(seq ${seconds * 10}); do [ -e '${dir}/go' ] && break; sleep 0.1; done; echo finished > '${dir}/finished'; echo finished`;
}

async function runningToken(couch: Parameters<typeof getToken>[0], id: string, dir: string) {
  await waitFor(() => readPid(join(dir, 'shell.pid')), { what: 'the token to start' });
  return waitFor(async () => {
    const doc = await getToken(couch, id);
    return doc.lock > 0 ? doc : undefined;
  });
}

test('completion conflict: a field added while the token runs is kept, and the result is saved', async (t) => {
  const { couch, ...db } = await poolDatabase(label);
  const dir = tempDir();
  await pushTokens(couch, [['merge_1', gated(dir)]]);
  const w = worker({ couch, ...db }, []);
  t.after(() => w.kill('SIGKILL'));
  const claimed = await runningToken(couch, 'merge_1', dir);
  await putToken(couch, { ...claimed, output: { note: 'added by someone else' }, reviewer: 'alice' });
  writeFileSync(join(dir, 'go'), '');
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 1, failed 0, requeued 0, lost 0/);
  const tok = await getToken(couch, 'merge_1', { attachments: true });
  assert.equal(tok.exit_code, 0);
  assert.ok(tok.done > 0);
  assert.equal(tok.reviewer, 'alice');
  assert.deepEqual(tok.output, { note: 'added by someone else' });
  assert.equal(Buffer.from(tok._attachments!['logs_merge_1.out']!.data!, 'base64').toString(), 'finished\n');
});

test('reset while running: the heartbeat notices, the command is stopped, and the old result is not written', async (t) => {
  const { couch, ...db } = await poolDatabase(label);
  const dir = tempDir();
  await pushTokens(couch, [['reset_1', gated(dir)]]);
  const w = worker({ couch, ...db }, ['--lease', '1500ms', '--max-tokens', '1', '--kill-grace', '2s']);
  t.after(() => w.kill('SIGKILL'));
  const claimed = await runningToken(couch, 'reset_1', dir);
  const shell = readPid(join(dir, 'shell.pid'))!;
  // what `picas reset` does: back to todo, lock fields cleared
  const { claim_id, worker_id, ...rest } = claimed;
  void claim_id;
  void worker_id;
  await putToken(couch, { ...rest, lock: 0, done: 0, hostname: '', lease_until: 0, scrub_count: 1, note: 'reset by hand' } as typeof claimed);
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 0, failed 0, requeued 0, lost 1/);
  assert.match(r.stderr, /lost the token: the token was reset to todo/);
  const tok = await getToken(couch, 'reset_1');
  assert.equal(tok.lock, 0);
  assert.equal(tok.done, 0);
  assert.equal(tok.exit_code, '');
  assert.equal(tok.note, 'reset by hand');
  assert.equal(tok._attachments, undefined, 'no logs written over the reset token');
  assert.ok(!alive(shell), 'the command was stopped');
  assert.ok(!existsSync(join(dir, 'finished')));
});

test('a conflict appearing during the heartbeat: the worker gives the token up and writes nothing', async (t) => {
  const { couch, ...db } = await poolDatabase(label);
  const dir = tempDir();
  await pushTokens(couch, [['split_hb', gated(dir)]]);
  const w = worker({ couch, ...db }, ['--lease', '1500ms', '--max-tokens', '1', '--kill-grace', '2s', '--repair-interval', '0']);
  t.after(() => w.kill('SIGKILL'));
  const claimed = await runningToken(couch, 'split_hb', dir);
  await injectConflict(couch, 'split_hb', (doc) => ({ ...doc, worker_id: 'ghost', claim_id: 'ghost:1' }));
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /lost 1/);
  assert.match(r.stderr, /conflicting revisions.*ownership cannot be proven/);
  const all = await leaves(couch, 'split_hb');
  assert.equal(all.length, 2, 'left split for picas repair');
  assert.ok(all.every((leaf) => leaf.done === 0 && !leaf._attachments), 'no result written on any leaf');
  assert.ok(all.some((leaf) => leaf._rev === claimed._rev || leaf.claim_id === claimed.claim_id));
  assert.ok(!existsSync(join(dir, 'finished')), 'the command was stopped');
});

test('a conflict at completion (the token changed and split while running): nothing is written', async (t) => {
  const { couch, ...db } = await poolDatabase(label);
  const dir = tempDir();
  await pushTokens(couch, [['split_done', gated(dir)]]);
  const w = worker({ couch, ...db }, ['--lease', '10m', '--repair-interval', '0']);
  t.after(() => w.kill('SIGKILL'));
  const claimed = await runningToken(couch, 'split_done', dir);
  // someone edits the token (so the worker's completion gets a 409), and a replica brings a sibling of that edit
  await putToken(couch, { ...claimed, reviewer: 'bob' });
  await injectConflict(couch, 'split_done', (doc) => ({ ...doc, reviewer: 'carol' }));
  writeFileSync(join(dir, 'go'), '');
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 0, failed 0, requeued 0, lost 1/);
  assert.match(r.stderr, /not written: the token has conflicting revisions/);
  const all = await leaves(couch, 'split_done');
  assert.equal(all.length, 2);
  assert.ok(all.every((leaf) => leaf.done === 0 && leaf.exit_code === ''), 'no result on any leaf');
  assert.equal(summaryOf(r.stderr).lost, 1);
});
