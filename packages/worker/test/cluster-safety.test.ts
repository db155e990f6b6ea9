import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { newToken } from '@picas/core';
import { Claimer, claimDocument } from '@picas/core/ops/claim';
import { fileLabel, runCli } from '@picas/testkit';
import { getToken, injectConflict, leaves, poolDatabase, pushTokens, startProxy, summaryOf, tempDir, worker } from './helpers.js';

const label = fileLabel(import.meta.url);

test('a token with conflicting revisions is skipped by claimers; picas repair puts it back to todo', async () => {
  const db = await poolDatabase(label);
  const { couch } = db;
  const dir = tempDir();
  await pushTokens(couch, [
    ['split_1', `touch '${dir}/split_1'`],
    ['plain_1', `touch '${dir}/plain_1'`],
  ]);
  // what only-202 claims leave behind: two locked leaves, nobody running the token
  await injectConflict(couch, 'split_1', (doc) => ({ ...doc, lock: 1, worker_id: 'a', claim_id: 'a:1', lease_until: 1 }));
  await injectConflict(couch, 'split_1', (doc) => ({ ...doc, lock: 2, worker_id: 'b', claim_id: 'b:1', lease_until: 1 }), 'f'.repeat(32));
  assert.equal((await leaves(couch, 'split_1')).length, 3);
  // the winning revision is a lock whose lease expired: the expired-lease view lists it, claimers must still skip it
  assert.equal((await getToken(couch, 'split_1')).worker_id, 'b');

  const r = await worker(db, ['--repair-interval', '0']);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 1,/);
  assert.ok(existsSync(join(dir, 'plain_1')));
  assert.ok(!existsSync(join(dir, 'split_1')), 'the conflicted token was not run');
  assert.equal((await leaves(couch, 'split_1')).length, 3, 'nor written');
  assert.ok(summaryOf(r.stderr).claims.viewReads < 10, 'and the worker did not spin on it');

  const dry = await runCli(['repair', '--dry-run', '--json'], { env: db.env });
  assert.equal(dry.exitCode, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout);
  assert.equal(plan.found, 1);
  assert.equal(plan.dryRun, true);
  assert.equal(plan.repaired[0].id, 'split_1');
  assert.equal(plan.repaired[0].removed.length, 2);
  assert.equal((await leaves(couch, 'split_1')).length, 3, 'a dry run changes nothing');

  const fix = await runCli(['repair'], { env: db.env });
  assert.equal(fix.exitCode, 0, fix.stderr);
  assert.match(fix.stdout, /repaired split_1: 2 losing revision\(s\) deleted, now todo/);
  const after = await leaves(couch, 'split_1');
  assert.equal(after.length, 1, 'one leaf left');
  const tok = await getToken(couch, 'split_1');
  assert.equal(tok._conflicts, undefined);
  assert.equal(tok.lock, 0);
  assert.equal(tok.scrub_count, 1);
  assert.match(tok.events!.at(-1)!.message!, /repaired: 2 conflicting revision\(s\) removed/);

  const again = await runCli(['repair'], { env: db.env });
  assert.match(again.stdout, /no tokens with conflicting revisions/, 'repair is idempotent');

  const r2 = await worker(db, []);
  assert.match(r2.stdout, /done 1,/);
  assert.ok(existsSync(join(dir, 'split_1')), 'after the repair it runs');
});

test('repair keeps a finished result found on a losing revision, and leaves live leases alone unless --force', async () => {
  const db = await poolDatabase(label);
  const { couch } = db;
  await pushTokens(couch, [['kept_1', 'true'], ['live_1', 'true']]);
  // a losing leaf (the lowest hash) carries a finished result with its logs
  await injectConflict(couch, 'kept_1', (doc) => ({ ...doc, lock: 5, done: 6, exit_code: 0, worker_id: 'finisher', _attachments: { 'logs_kept_1.out': { content_type: 'text/plain', data: Buffer.from('kept\n').toString('base64') } } }), '0'.repeat(32));
  assert.equal((await getToken(couch, 'kept_1')).lock, 0, 'the winner is the todo revision');
  const now = Math.floor(Date.now() / 1000);
  await injectConflict(couch, 'live_1', (doc) => ({ ...doc, lock: now, worker_id: 'busy', claim_id: 'busy:1', lease_until: now + 600 }));

  const r = await runCli(['repair', '--json'], { env: db.env });
  assert.equal(r.exitCode, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.repaired.map((x: { id: string; state: string }) => [x.id, x.state]), [['kept_1', 'done']]);
  assert.equal(report.skipped[0].id, 'live_1');
  assert.match(report.skipped[0].reason, /locked by busy with a lease until/);
  const kept = await getToken(couch, 'kept_1');
  assert.equal(kept._conflicts, undefined);
  assert.equal(kept.worker_id, 'finisher');
  assert.equal(kept.exit_code, 0);
  const log = await couch.http.request({ path: couch.http.docPath('kept_1', 'logs_kept_1.out'), raw: true });
  assert.equal(String(log.body), 'kept\n', 'with its attachments');

  const forced = await runCli(['repair', '--force'], { env: db.env });
  assert.match(forced.stdout, /repaired live_1: 1 losing revision\(s\) deleted, now todo/);
  assert.equal((await leaves(couch, 'live_1')).length, 1);
});

test('claim bodies are unique, and of concurrent claims on one revision exactly one wins (201)', async () => {
  const db = await poolDatabase(label);
  const { couch } = db;
  await pushTokens(couch, [['race_1', 'true']]);
  const doc = await getToken(couch, 'race_1');
  const claimers = Array.from({ length: 6 }, (_, i) => new Claimer({ http: couch.http, workerId: `w${i}`, hostname: 'h', leaseMs: 60_000, window: 8, reclaimExpired: true }));
  const infos = claimers.map((c) => c.claimInfo());
  assert.equal(new Set(infos.map((i) => i.claimId)).size, 6, 'claim ids differ');
  const sameWorker = new Claimer({ http: couch.http, workerId: 'w0', hostname: 'h', leaseMs: 60_000, window: 8, reclaimExpired: true });
  assert.notEqual(sameWorker.claimInfo().claimId, sameWorker.claimInfo().claimId, 'even for one worker');
  const results = await Promise.all(infos.map((info) => claimDocument(couch.http, doc, info)));
  const won = results.filter((r) => r.status === 'won');
  assert.equal(won.length, 1);
  assert.equal(results.filter((r) => r.status === 'conflict').length, 5);
  const stored = await getToken(couch, 'race_1');
  assert.equal(stored.claim_id, won[0]!.status === 'won' ? won[0]!.doc.claim_id : undefined);
  assert.equal(stored._conflicts, undefined);
});

test('only a 201 is a win: behind a cluster that answers 202, no token runs and the worker says the cluster is degraded', async () => {
  const db = await poolDatabase(label);
  const { couch } = db;
  const dir = tempDir();
  await pushTokens(couch, [
    ['c202_1', `touch '${dir}/c202_1'`],
    ['c202_2', `touch '${dir}/c202_2'`],
  ]);
  const dbPath = `/${db.config.db}`;
  const proxy = await startProxy(db.config.url, {
    // a 3-replica cluster that cannot reach every replica: every claim (a PUT with w=) gets 202
    status: (req, status) => (req.method === 'PUT' && /[?&]w=/.test(req.url ?? '') && status === 201 ? 202 : status),
    body: (req, body) => (req.method === 'GET' && req.url === dbPath ? { ...(body as object), cluster: { q: 2, n: 3, w: 2, r: 2 } } : body),
  });
  const r = await worker(db, ['--max-time', '20s'], { env: { PICAS_URL: proxy.url } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 0, failed 0, requeued 0, lost 0/);
  assert.match(r.stderr, /cluster degraded: claims need all 3 replicas/);
  assert.ok(!existsSync(join(dir, 'c202_1')) && !existsSync(join(dir, 'c202_2')), 'no token ran');
  const claims = proxy.requests.filter((q) => q.method === 'PUT' && q.url.includes('c202_'));
  assert.ok(claims.length >= 1);
  assert.ok(claims.every((q) => /[?&]w=3(&|$)/.test(q.url) && q.status === 202), 'claims are sent with w=3 and answered 202');
  // the half-accepted claims hold a lease that expires: nothing is left locked for good
  const tok = await getToken(couch, 'c202_1');
  assert.ok(tok.lock === 0 || tok.lease_until! > 0);

  const unsafe = await worker(db, ['--claim-quorum', '2', '--max-time', '5s', '--no-reclaim-expired'], { env: { PICAS_URL: proxy.url } });
  assert.equal(unsafe.exitCode, 0, unsafe.stderr);
  assert.match(unsafe.stderr, /--claim-quorum 2 is below the 3 replicas: two pilots may run the same token/);
});

test('--prefetch claims several tokens in one _bulk_docs on a single node; it is refused on a cluster', async () => {
  const db = await poolDatabase(label);
  const { couch } = db;
  await pushTokens(couch, Array.from({ length: 20 }, (_, i) => [`pf_${i}`, 'true'] as [string, string]));
  const proxy = await startProxy(db.config.url);
  const r = await worker(db, ['--prefetch', '5', '--slots', '2'], { env: { PICAS_URL: proxy.url } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 20, failed 0/);
  // _bulk_docs carries the claims, and (with two slots) results that finished together
  const bulk = proxy.requests.filter((q) => q.method === 'POST' && q.url.includes('/_bulk_docs'));
  const completionBatches = summaryOf(r.stderr).completions?.batches ?? 0;
  const bulkClaims = bulk.length - completionBatches;
  assert.ok(bulkClaims >= 4 && bulkClaims <= 8, `${bulkClaims} bulk claims for 20 tokens`);
  const singles = proxy.requests.filter((q) => q.method === 'PUT' && /pf_\d+\?w=/.test(q.url));
  assert.equal(singles.length, 0);

  await pushTokens(couch, [newToken('pf_cluster', 'true')]);
  const dbPath = `/${db.config.db}`;
  const cluster = await startProxy(db.config.url, {
    body: (req, body) => (req.method === 'GET' && req.url === dbPath ? { ...(body as object), cluster: { q: 2, n: 3, w: 2, r: 2 } } : body),
  });
  const c = await worker(db, ['--prefetch', '5'], { env: { PICAS_URL: cluster.url } });
  assert.equal(c.exitCode, 0, c.stderr);
  assert.match(c.stderr, /--prefetch 5 ignored: on a cluster/);
  assert.match(c.stdout, /done 1,/);
  assert.ok(cluster.requests.some((q) => q.method === 'PUT' && /pf_cluster\?w=3/.test(q.url)));
});
