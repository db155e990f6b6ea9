import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newToken } from '@picas/core';
import { Claimer, claimDocument } from '@picas/core/ops/claim';
import { fileLabel, runCli } from '@picas/testkit';
import { getToken, injectConflict, leaves, poolDatabase, pushTokens, putToken, startProxy, summaryOf, tempDir, worker } from './helpers.js';

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

/** A 3-replica cluster in front of the test server: claims (PUTs with w=) that got 201 are answered 202. */
async function acceptingCluster(db: Awaited<ReturnType<typeof poolDatabase>>, missing: string[]) {
  const dbPath = `/${db.config.db}`;
  const nodes = ['node1@127.0.0.1', 'node2@127.0.0.1', 'node3@127.0.0.1'];
  return startProxy(db.config.url, {
    respond: (req) => (req.url === '/_membership' ? { status: 200, body: { all_nodes: nodes.filter((n) => !missing.includes(n)), cluster_nodes: nodes } } : undefined),
    status: (req, status) => (req.method === 'PUT' && /[?&]w=/.test(req.url ?? '') && status === 201 ? 202 : status),
    body: (req, body) => (req.method === 'GET' && req.url === dbPath ? { ...(body as object), cluster: { q: 2, n: 3, w: 2, r: 2 } } : body),
  });
}

test('only a 201 is a win: with a node out of reach no token runs, and the worker names the missing node', async () => {
  const db = await poolDatabase(label);
  const { couch } = db;
  const dir = tempDir();
  await pushTokens(couch, [
    ['c202_1', `touch '${dir}/c202_1'`],
    ['c202_2', `touch '${dir}/c202_2'`],
  ]);
  const proxy = await acceptingCluster(db, ['node3@127.0.0.1']);
  const r = await worker(db, ['--max-time', '20s'], { env: { PICAS_URL: proxy.url } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 0, failed 0, requeued 0, lost 0/);
  assert.match(r.stderr, /cluster degraded: node\(s\) node3@127\.0\.0\.1 cannot be reached; claims need all 3 replicas/);
  assert.ok(!existsSync(join(dir, 'c202_1')) && !existsSync(join(dir, 'c202_2')), 'no token ran');
  const claims = proxy.requests.filter((q) => q.method === 'PUT' && q.url.includes('c202_'));
  assert.ok(claims.length >= 1);
  assert.ok(claims.every((q) => /[?&]w=3(&|$)/.test(q.url) && q.status === 202), 'claims (and withdrawals) are sent with w=3 and answered 202');
  // the half-accepted claims were withdrawn by the pilot itself: nothing waits for a lease
  for (const id of ['c202_1', 'c202_2']) {
    const tok = await getToken(couch, id);
    assert.equal(tok.lock, 0, `${id} is todo again`);
    assert.equal(tok.scrub_count, 0, 'a claim that never ran is no scrub');
    assert.equal(tok.attempts ?? 0, 0, 'nor an attempt');
  }

  const unsafe = await worker(db, ['--claim-quorum', '2', '--max-time', '5s', '--no-reclaim-expired'], { env: { PICAS_URL: proxy.url } });
  assert.equal(unsafe.exitCode, 0, unsafe.stderr);
  assert.match(unsafe.stderr, /--claim-quorum 2 is below the 3 replicas: two pilots may run the same token/);
});

test('202s with every node up are contention, not degradation: the pilot settles its unconfirmed claims and does not leave before', async () => {
  const db = await poolDatabase(label);
  const { couch } = db;
  const dir = tempDir();
  await pushTokens(couch, [['cont_1', `touch '${dir}/cont_1'`]]);
  const proxy = await acceptingCluster(db, []);
  const r = await worker(db, ['--max-time', '15s'], { env: { PICAS_URL: proxy.url } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /cluster degraded/);
  assert.match(r.stderr, /claims contended on the cluster/);
  // the pool looked empty while its own claim was unconfirmed: it waited, settled it (withdrawn), and tried again
  assert.match(r.stderr, /settling them before leaving/);
  const u = summaryOf(r.stderr).unconfirmed;
  // behind this proxy the withdrawal itself is answered 202 (applied, not proven): looked at again, then settled
  assert.ok(u.withdrawn + u.retried >= 1 && u.pending === 0, `the unconfirmed claim was withdrawn: ${JSON.stringify(u)}`);
  assert.match(summaryOf(r.stderr).stop_reason ?? summaryOf(r.stderr).stopReason, /--max-time/, 'and it kept trying instead of leaving with "no tokens left"');
  assert.equal((await getToken(couch, 'cont_1')).lock, 0, 'nothing is left locked');
});

test('a claim the server applied but whose answer was lost (connection dropped) is withdrawn by its pilot, then claimed again and run once: nothing is left locked', async () => {
  const db = await poolDatabase(label);
  const { couch } = db;
  const dir = tempDir();
  const ledger = join(dir, 'ran.txt');
  await pushTokens(couch, [
    ['lost_1', `echo lost_1 >> '${ledger}'`],
    ['lost_2', `echo lost_2 >> '${ledger}'`],
    ['lost_3', `echo lost_3 >> '${ledger}'`],
  ]);
  // the first claim of each token reaches CouchDB and is written there; its answer never comes back
  const dropped = new Set<string>();
  const proxy = await startProxy(db.config.url, {
    dropAnswer: (req) => {
      const id = /\/(lost_\d)(\?|$)/.exec(req.url ?? '')?.[1];
      if (req.method !== 'PUT' || !id || dropped.has(id)) return false;
      dropped.add(id);
      return true;
    },
  });
  const r = await worker(db, ['--max-time', '90s'], { env: { PICAS_URL: proxy.url } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.deepEqual([...dropped].sort(), ['lost_1', 'lost_2', 'lost_3'], 'the first claim of every token lost its answer');
  assert.match(r.stdout, /done 3, failed 0, requeued 0, lost 0/);
  const ran = readFileSync(ledger, 'utf8').split('\n').filter(Boolean).sort();
  assert.deepEqual(ran, ['lost_1', 'lost_2', 'lost_3'], 'each token ran exactly once');
  const u = summaryOf(r.stderr).unconfirmed;
  assert.equal(u.withdrawn, 3, `the three claims were withdrawn by the pilot that sent them: ${JSON.stringify(u)}`);
  assert.equal(u.pending, 0);
  assert.match(summaryOf(r.stderr).stop_reason ?? summaryOf(r.stderr).stopReason, /no tokens left/, 'it did not leave while its own claims held tokens');
  for (const id of ['lost_1', 'lost_2', 'lost_3']) {
    const tok = await getToken(couch, id);
    assert.ok(tok.lock > 0 && tok.done > 0, `${id} is done`);
    assert.equal(tok.scrub_count, 0, 'a claim that never ran is no scrub');
    assert.ok((tok.events ?? []).some((e) => /got no clear answer .* withdrawn/.test(e.message ?? '')), `${id} says why it was withdrawn: ${JSON.stringify(tok.events)}`);
  }
});

test('a result the server applied but whose answer was lost is seen as written on the retry (409, our own result there): done, not "lost"', async () => {
  const db = await poolDatabase(label);
  const { couch } = db;
  await pushTokens(couch, [['lostres_1', 'echo ran']]);
  // PUTs of the token: the claim, then the result; the result's answer never comes back
  let puts = 0;
  const proxy = await startProxy(db.config.url, { dropAnswer: (req) => req.method === 'PUT' && /\/lostres_1(\?|$)/.test(req.url ?? '') && ++puts === 2 });
  const r = await worker(db, ['--max-time', '60s'], { env: { PICAS_URL: proxy.url } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.ok(puts >= 3, `the result was sent again after the lost answer (${puts} PUTs)`);
  assert.ok(proxy.requests.some((q) => q.method === 'PUT' && q.status === 409), 'and the second try met our own first one (409)');
  assert.match(r.stdout, /done 1, failed 0, requeued 0, lost 0/);
  const tok = await getToken(couch, 'lostres_1');
  assert.ok(tok.lock > 0 && tok.done > 0 && tok.exit_code === 0, 'the token is done');
});

test('sibling claims (a split of two claims on one revision) never ran: picas repair puts the token back at once, without --force', async () => {
  const db = await poolDatabase(label);
  const { couch } = db;
  await pushTokens(couch, [['sib_1', 'true'], ['beat_1', 'true']]);
  const now = Math.floor(Date.now() / 1000);
  // a claim written on the pushed revision, and a sibling claim on that same revision (as two 202s leave it)
  const pushed = await getToken(couch, 'sib_1');
  const mine = new Claimer({ http: couch.http, workerId: 'a', hostname: 'h', leaseMs: 600_000, window: 8, reclaimExpired: true });
  const won = await claimDocument(couch.http, pushed, mine.claimInfo());
  assert.equal(won.status, 'won');
  assert.equal(won.status === 'won' && won.doc.claimed_from, pushed._rev, 'a claim records the revision it was written on');
  await injectConflict(couch, 'sib_1', (doc) => ({ ...doc, worker_id: 'b', claim_id: 'b:1', lock: now, lease_until: now + 600 }));
  // a claim renewed by its heartbeat (another parent) next to a sibling: it may be running, so its lease holds
  const beat = await getToken(couch, 'beat_1');
  const held = await claimDocument(couch.http, beat, mine.claimInfo());
  assert.equal(held.status, 'won');
  const renewed = { ...(held.status === 'won' ? held.doc : beat), lease_until: now + 900 };
  await putToken(couch, renewed);
  await injectConflict(couch, 'beat_1', (doc) => ({ ...doc, lock: 0, lease_until: 0, claim_id: undefined, worker_id: undefined }));

  const r = await runCli(['repair', '--json'], { env: db.env });
  assert.equal(r.exitCode, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.repaired.map((x: { id: string; state: string }) => [x.id, x.state]), [['sib_1', 'todo']]);
  assert.match(report.repaired[0].note, /unconfirmed claims \(no 201 at w=n\), never run/);
  assert.deepEqual(report.skipped.map((x: { id: string }) => x.id), ['beat_1']);
  const tok = await getToken(couch, 'sib_1');
  assert.equal(tok._conflicts, undefined);
  assert.equal(tok.lock, 0);
  assert.equal(tok.scrub_count, 0, 'nothing ran: no scrub');
  assert.equal(tok.attempts ?? 0, 0, 'and no attempt');
  assert.equal((await leaves(couch, 'sib_1')).length, 1);
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
    // a healthy cluster: the w=3 claim reached every replica (a real single node answers w=3 with 202, its one copy
    // being fewer than 3; the embedded server ignores w)
    status: (req, status) => (req.method === 'PUT' && /[?&]w=3/.test(req.url ?? '') && status === 202 ? 201 : status),
  });
  const c = await worker(db, ['--prefetch', '5'], { env: { PICAS_URL: cluster.url } });
  assert.equal(c.exitCode, 0, c.stderr);
  assert.match(c.stderr, /--prefetch 5 ignored: on a cluster/);
  assert.match(c.stdout, /done 1,/);
  assert.ok(cluster.requests.some((q) => q.method === 'PUT' && /pf_cluster\?w=3/.test(q.url)));
});
