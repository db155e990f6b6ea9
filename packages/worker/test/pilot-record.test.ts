/**
 * Pilot records: a real pilot writes `pilot:<worker id>` at start, renews it with its lease, and writes its
 * state, stop reason, counts and summary at exit; `picas pilots` lists them and shows a running pilot past
 * its lease as lost; a failing record write never stops token work; --no-pilot-record writes none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pilotDocId, type PilotDoc } from '@picas/core';
import { fileLabel, logLines, runCli, waitFor } from '@picas/testkit';
import { poolDatabase, pushTokens, readPid, startProxy, tempDir, worker } from './helpers.js';

const label = fileLabel(import.meta.url);

async function pilotDoc(db: Awaited<ReturnType<typeof poolDatabase>>, workerId: string): Promise<PilotDoc | undefined> {
  const res = await db.couch.http.request<PilotDoc>({ path: db.couch.http.docPath(pilotDocId(workerId)) });
  return res.status === 200 ? res.body : undefined;
}

test('a pilot keeps its record: running with heartbeats, then finished with counts, job ids and summary', async () => {
  const db = await poolDatabase(label);
  await pushTokens(db.couch, [
    ['pr_ok_1', 'echo one'],
    ['pr_ok_2', 'echo two'],
    ['pr_bad', 'echo oops >&2; exit 4'],
  ]);
  const r = await worker(db, ['--worker-id', 'pr-pilot-1', '--slots', '2', '--lease', '3s'], { env: { PBS_JOBID: '4242.pbs', PICAS_LAUNCHER: 'local' } });
  assert.equal(r.exitCode, 0, r.stderr);
  const doc = await pilotDoc(db, 'pr-pilot-1');
  assert.ok(doc, 'the record exists');
  assert.equal(doc.type, 'pilot');
  assert.equal(doc.state, 'finished');
  assert.equal(doc.stop_reason, 'no tokens left');
  assert.equal(doc.slots, 2);
  assert.equal(doc.lease_s, 3);
  assert.deepEqual(doc.job_id, { field: 'pbs_job_id', value: '4242.pbs' });
  assert.equal(doc.launcher, 'local');
  assert.deepEqual({ done: doc.counts.done, failed: doc.counts.failed, requeued: doc.counts.requeued }, { done: 2, failed: 1, requeued: 0 });
  assert.equal(doc.summary?.done, 2);
  assert.equal(doc.summary?.stop_reason, 'no tokens left');
  assert.ok(doc.ended! >= doc.started && doc.heartbeat >= doc.started);
  assert.ok(doc.hostname.length > 0);
  // the record is no token: PiCaS' views do not count it
  const status = JSON.parse((await runCli(['status', '--json'], { env: db.env })).stdout);
  assert.equal(status.total, 3);

  const listed = await runCli(['pilots', '--json'], { env: db.env });
  assert.equal(listed.exitCode, 0, listed.stderr);
  const rows = JSON.parse(listed.stdout) as Array<PilotDoc & { shown: string }>;
  assert.deepEqual(rows.map((p) => [p.pilot_id, p.shown]), [['pr-pilot-1', 'finished']]);
  const table = await runCli(['pilots'], { env: db.env });
  assert.match(table.stdout, /pr-pilot-1\s+finished\s+\S+\s+local, pbs 4242\.pbs\s+2\s+2\s+1\s+0/);
});

test('SIGTERM: the record says running while the token runs, then stopped with the reason; a stale running record shows as lost', async (t) => {
  const db = await poolDatabase(label);
  const dir = tempDir();
  await pushTokens(db.couch, [['pr_long', `echo $$ > '${join(dir, 'pid')}'; sleep 600`]]);
  const w = worker(db, ['--worker-id', 'pr-pilot-2', '--lease', '3s', '--kill-grace', '2s']);
  t.after(() => w.kill('SIGKILL'));
  await waitFor(() => readPid(join(dir, 'pid')), { what: 'the token to start' });
  // renewed on the pilot's timer (every lease/3 = 1 s) while the token runs
  const first = await waitFor(() => pilotDoc(db, 'pr-pilot-2'), { what: 'the pilot record' });
  assert.equal(first.state, 'running');
  const renewed = await waitFor(async () => {
    const d = await pilotDoc(db, 'pr-pilot-2');
    return d && d.heartbeat > first.heartbeat ? d : undefined;
  }, { what: 'a renewed heartbeat' });
  assert.equal(renewed.state, 'running');
  const running = JSON.parse((await runCli(['pilots', '--json', '--state', 'running'], { env: db.env })).stdout) as PilotDoc[];
  assert.deepEqual(running.map((p) => p.pilot_id), ['pr-pilot-2']);
  w.kill('SIGTERM');
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  const doc = await pilotDoc(db, 'pr-pilot-2');
  assert.equal(doc?.state, 'stopped');
  assert.equal(doc?.stop_reason, 'received SIGTERM');
  assert.equal(doc?.counts.requeued, 1);

  // a pilot that died without a word: its record still says running, but its lease passed
  const now = Math.floor(Date.now() / 1000);
  const dead: PilotDoc = { _id: pilotDocId('pr-dead'), type: 'pilot', pilot_id: 'pr-dead', hostname: 'gone', pid: 1, slots: 1, lease_s: 60, started: now - 600, heartbeat: now - 300, lease_until: now - 240, state: 'running', counts: { claimed: 1, done: 0, failed: 0, requeued: 0, lost: 0 } };
  await db.couch.http.expectOk({ method: 'PUT', path: db.couch.http.docPath(dead._id), body: dead });
  const lost = JSON.parse((await runCli(['pilots', '--json', '--state', 'lost'], { env: db.env })).stdout) as Array<PilotDoc & { shown: string }>;
  assert.deepEqual(lost.map((p) => [p.pilot_id, p.shown]), [['pr-dead', 'lost']]);
  const bad = await runCli(['pilots', '--state', 'sleeping'], { env: db.env });
  assert.equal(bad.exitCode, 1);
  assert.match(bad.stderr, /--state: 'sleeping' is not a pilot state/);
});

test('a failing pilot-record write never stops token work; --no-pilot-record writes none', async () => {
  const db = await poolDatabase(label);
  await pushTokens(db.couch, [['pr_a', 'echo a'], ['pr_b', 'echo b']]);
  // every write of a pilot record fails with a 500; token writes go through
  const proxy = await startProxy(db.env.PICAS_URL!, { reject: (req) => (req.method === 'PUT' && (req.url ?? '').includes('/pilot%3A') ? 500 : undefined) });
  const r = await worker(db, ['--worker-id', 'pr-pilot-3'], { env: { PICAS_URL: proxy.url } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 2, failed 0/);
  assert.ok(proxy.requests.some((q) => q.method === 'PUT' && q.url.includes('/pilot%3A') && q.status === 500), 'the record writes were tried');
  assert.ok(logLines(r.stderr).some((l) => /could not write the pilot record/.test(l.msg)), 'the failure is logged');
  assert.equal(await pilotDoc(db, 'pr-pilot-3'), undefined);

  await pushTokens(db.couch, [['pr_c', 'echo c']]);
  const off = await worker(db, ['--worker-id', 'pr-pilot-4', '--no-pilot-record']);
  assert.equal(off.exitCode, 0, off.stderr);
  assert.match(off.stdout, /done 1/);
  assert.equal(await pilotDoc(db, 'pr-pilot-4'), undefined);
});

test('the record carries the tokens running now and claimed ahead; picas status splits locked with them', async (t) => {
  const db = await poolDatabase(`${label}-split`);
  const dir = tempDir();
  const gate = join(dir, 'go');
  const ids = ['split_1', 'split_2', 'split_3', 'split_4', 'split_5', 'split_6'];
  await pushTokens(db.couch, ids.map((id): [string, string] => [id, `while [ ! -e '${gate}' ]; do sleep 0.1; done`]));
  const w = worker(db, ['--worker-id', 'split-pilot', '--slots', '2', '--prefetch', '6', '--lease', '3s']);
  t.after(() => w.kill('SIGKILL'));
  const doc = await waitFor(async () => {
    const d = await pilotDoc(db, 'split-pilot');
    return d?.running === 2 && d.claimed_ahead === 4 ? d : undefined;
  }, { what: 'the record to show 2 running and 4 claimed ahead', timeoutMs: 20_000 });
  assert.equal(doc.state, 'running');
  // what its running tokens need, per shape, and what it has
  assert.deepEqual(doc.running_shapes, { '1 cpu': 2 });
  assert.equal(doc.resources?.cpus, 2);
  assert.equal(doc.resources?.gpus, 0);
  const status = JSON.parse((await runCli(['status', '--json'], { env: db.env })).stdout);
  assert.equal(status.locked, 6, 'the existing keys stay');
  assert.equal(status.running, 2);
  assert.equal(status.claimed_ahead, 4);
  const table = (await runCli(['status'], { env: db.env })).stdout;
  assert.match(table, /^\s+locked\s+6$/m);
  assert.match(table, /^\s+running\s+2$/m);
  assert.match(table, /^\s+claimed ahead\s+4$/m);

  writeFileSync(gate, '');
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  const end = await pilotDoc(db, 'split-pilot');
  assert.deepEqual([end?.state, end?.running, end?.claimed_ahead, end?.running_shapes], ['finished', 0, 0, {}]);
});
