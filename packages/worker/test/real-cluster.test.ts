/**
 * The exactly-once promise on a real 3-node CouchDB 3.5 cluster (n=3, q=2), with pilots spread over the
 * nodes: every token runs exactly once, nothing is left locked or split when the pilots exit, plain
 * contention (202s with every node up) is never reported as a degraded cluster, and a node stopped mid-run
 * makes pilots back off, after which everything drains exactly once.
 *
 * Runs when the run has a cluster (`npm test -- --cluster URL1,URL2,URL3`, which CI's real-CouchDB pass
 * starts from ../shared/couchdb); skips with the reason otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { newToken, openCouch, type Couch, type TokenDoc } from '@picas/core';
import { Claimer, claimDocument, type ClaimAttempt } from '@picas/core/ops/claim';
import { settleUnconfirmedClaim } from '@picas/core/ops/settle-claim';
import { repoRoot, runCli, runWorker, scratchDir, testCluster, waitFor } from '@picas/testkit';

const cluster = testCluster();
const skip = cluster
  ? undefined
  : 'needs a real 3-node CouchDB cluster: run `npm test -- --cluster URL1,URL2,URL3` (e.g. the URLs that `../shared/couchdb/couchdb cluster start` prints)';
if (!cluster && process.env.PICAS_REQUIRE_COUCHDB === '1') {
  test('a real CouchDB cluster is available (PICAS_REQUIRE_COUCHDB=1)', () => assert.fail(skip));
}

// 6 rounds keep CI's real-CouchDB pass within its time (a round takes 60–80 s on a loaded 2-core machine); more: PICAS_CLUSTER_ROUNDS
const ROUNDS = Number(process.env.PICAS_CLUSTER_ROUNDS ?? 6);
const TOKENS = Number(process.env.PICAS_CLUSTER_TOKENS ?? 600);
const PILOTS = 6;

interface Node {
  url: string;
  username?: string;
  password?: string;
}

function nodes(): Node[] {
  return cluster!.map((raw) => {
    const u = new URL(raw);
    const node: Node = { url: '', username: decodeURIComponent(u.username) || undefined, password: decodeURIComponent(u.password) || undefined };
    u.username = '';
    u.password = '';
    node.url = u.toString().replace(/\/$/, '');
    return node;
  });
}

function envFor(node: Node, db: string): Record<string, string> {
  // debug: a failure names what each pilot did with the tokens left behind (202 claims and how they settled)
  const env: Record<string, string> = { PICAS_URL: node.url, PICAS_DB: db, PICAS_LOG_LEVEL: 'debug' };
  if (node.username) env.PICAS_USERNAME = node.username;
  if (node.password) env.PICAS_PASSWORD = node.password;
  return env;
}

async function freshClusterDb(label: string): Promise<{ name: string; couch: Couch }> {
  const node = nodes()[0]!;
  const name = `t_cluster_${label}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const couch = openCouch({ url: node.url, db: name, username: node.username, password: node.password, embedded: false });
  await couch.http.expectOk({ method: 'PUT', path: couch.http.dbPath() }, `creating ${name}`);
  const init = await runCli(['init'], { env: envFor(node, name) });
  assert.equal(init.exitCode, 0, init.stderr);
  return { name, couch };
}

async function dropDb(db: { couch: Couch }): Promise<void> {
  await db.couch.http.request({ method: 'DELETE', path: db.couch.http.dbPath() }).catch(() => undefined);
  await db.couch.close();
}

async function allTokens(couch: Couch): Promise<TokenDoc[]> {
  const body = await couch.http.expectOk<{ rows: Array<{ doc?: TokenDoc }> }>({ path: couch.http.dbPath('/_all_docs'), query: { include_docs: true, conflicts: true } });
  return body.rows.flatMap((r) => (r.doc && r.doc.type === 'token' ? [r.doc] : []));
}

/** Pushes `count` tokens that append their id to a ledger file, through `picas push` of a .txt file. */
async function pushLedgerTokens(db: string, count: number, dir: string): Promise<string> {
  const ledger = join(dir, 'ran.txt');
  const file = join(dir, 'tokens.txt');
  writeFileSync(file, Array.from({ length: count }, (_, i) => `echo t${i} >> '${ledger}'`).join('\n') + '\n');
  const push = await runCli(['push', file], { env: envFor(nodes()[0]!, db) });
  assert.equal(push.exitCode, 0, push.stderr);
  return ledger;
}

function ledgerCounts(ledger: string): Map<string, number> {
  const seen = new Map<string, number>();
  if (!existsSync(ledger)) return seen;
  for (const line of readFileSync(ledger, 'utf8').split('\n')) if (line) seen.set(line, (seen.get(line) ?? 0) + 1);
  return seen;
}

/** Exactly once, nothing locked, nothing split: the checks made after every round. */
async function assertDrained(couch: Couch, ledger: string, count: number, round: string): Promise<void> {
  const seen = ledgerCounts(ledger);
  const twice = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], `${round}: no token ran twice`);
  const missing = Array.from({ length: count }, (_, i) => `t${i}`).filter((id) => !seen.has(id));
  const tokens = await allTokens(couch);
  const stuck = tokens.filter((t) => !(t.lock > 0 && t.done > 0)).map((t) => `${t._id} lock=${t.lock} done=${t.done} worker=${t.worker_id ?? ''} conflicts=${(t._conflicts ?? []).length}`);
  assert.deepEqual(missing, [], `${round}: every token ran (not finished: ${stuck.slice(0, 5).join('; ')})`);
  assert.deepEqual(stuck, [], `${round}: every token is done, none locked`);
  const split = tokens.filter((t) => (t._conflicts ?? []).length > 0).map((t) => t._id);
  assert.deepEqual(split, [], `${round}: no token left with _conflicts`);
}

function pilots(db: string, args: string[] = []) {
  const all = nodes();
  return Array.from({ length: PILOTS }, (_, i) => runWorker(['--worker-id', `cl-${i}`, ...args], { env: envFor(all[i % all.length]!, db), timeout: 600_000 }));
}

test(`real cluster: ${ROUNDS} rounds of ${PILOTS} pilots (two per node) over ${TOKENS} tokens each: every token exactly once, nothing stranded, no false "degraded"`, { skip, timeout: 3_600_000 }, async (t) => {
  let accepted = 0;
  let settled = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const db = await freshClusterDb(`r${round}`);
    try {
      const dir = scratchDir('picas-cluster-');
      const ledger = await pushLedgerTokens(db.name, TOKENS, dir);
      const runs = await Promise.all(pilots(db.name));
      for (const r of runs) {
        assert.equal(r.exitCode, 0, r.stderr.slice(-2000));
        assert.doesNotMatch(r.stderr, /cluster degraded/, `round ${round}: no "degraded" while every node is up`);
        assert.match(r.stdout, /lost 0,/);
      }
      try {
        await assertDrained(db.couch, ledger, TOKENS, `round ${round}`);
      } catch (err) {
        // what the pilots said about the tokens left behind: the cause is in their logs, not in the token
        const stuck = (await allTokens(db.couch)).filter((t) => !(t.lock > 0 && t.done > 0)).map((t) => t._id);
        const said = runs.flatMap((r, i) => r.stderr.split('\n').filter((l) => stuck.some((id) => l.includes(id))).map((l) => `cl-${i}: ${l}`));
        const summaries = runs.map((r, i) => `cl-${i}: ${r.stderr.split('\n').filter((l) => l.includes('"summary":true')).at(-1) ?? '(no summary)'}`);
        (err as Error).message += `\npilot log lines naming them:\n${said.slice(0, 40).join('\n')}\nsummaries:\n${summaries.join('\n')}`;
        throw err;
      }
      for (const r of runs) {
        const summary = JSON.parse(r.stderr.split('\n').filter((l) => l.includes('"summary":true')).at(-1)!);
        accepted += summary.claims.accepted;
        settled += (summary.unconfirmed?.withdrawn ?? 0) + (summary.unconfirmed?.repaired ?? 0);
      }
    } finally {
      await dropDb(db);
    }
  }
  t.diagnostic(`${ROUNDS} rounds: ${accepted} claims answered 202 (contention), ${settled} settled by their pilots (withdrawn or repaired at once); 0 doubles, 0 stranded`);
});

test('real cluster: mixed shapes (1-cpu and 2-cpu tokens) on packing pilots of 2 cpus: every token exactly once, nothing stranded', { skip, timeout: 900_000 }, async () => {
  const db = await freshClusterDb('shapes');
  try {
    const dir = scratchDir('picas-cluster-shapes-');
    const ledger = join(dir, 'ran.txt');
    const small = 240;
    const large = 60;
    const line = (i: number) => `echo t${i} >> '${ledger}'`;
    writeFileSync(join(dir, 'small.txt'), Array.from({ length: small }, (_, i) => line(i)).join('\n') + '\n');
    writeFileSync(join(dir, 'large.txt'), Array.from({ length: large }, (_, i) => line(small + i)).join('\n') + '\n');
    for (const args of [['small.txt'], ['--cpus', '2', 'large.txt']]) {
      const push = await runCli(['push', ...args.slice(0, -1), join(dir, args.at(-1)!)], { env: envFor(nodes()[0]!, db.name) });
      assert.equal(push.exitCode, 0, push.stderr);
    }
    const runs = await Promise.all(pilots(db.name, ['--cpus', '2']));
    for (const r of runs) {
      assert.equal(r.exitCode, 0, r.stderr.slice(-2000));
      assert.match(r.stdout, /lost 0,/);
    }
    await assertDrained(db.couch, ledger, small + large, 'mixed shapes');
  } finally {
    await dropDb(db);
  }
});

test('real cluster: six claims of one revision raced through the three nodes: at most one 201; when all got 202 their claimers settle the split at once and the token is todo again', { skip, timeout: 600_000 }, async (t) => {
  const db = await freshClusterDb('race');
  const all = nodes();
  const couches = all.map((n) => openCouch({ url: n.url, db: db.name, username: n.username, password: n.password, embedded: false }));
  let splits = 0;
  let wins = 0;
  try {
    for (let round = 0; round < 60 && !(splits >= 2 && round >= 10); round++) {
      const id = `race_${round}`;
      const http0 = couches[0]!.http;
      await http0.expectOk({ method: 'PUT', path: http0.docPath(id), query: { w: 3 }, body: newToken(id, 'true') }, 'writing a token');
      const docs = await Promise.all(couches.map((c) => c.http.expectOk<TokenDoc>({ path: c.http.docPath(id), query: { r: 3 } })));
      const claimers = Array.from({ length: 6 }, (_, i) => new Claimer({ http: couches[i % 3]!.http, workerId: `racer${i}`, hostname: 'h', leaseMs: 600_000, window: 8, reclaimExpired: false, w: 3 }));
      const infos = claimers.map((c) => c.claimInfo());
      const results: ClaimAttempt[] = await Promise.all(infos.map((info, i) => claimDocument(couches[i % 3]!.http, docs[i % 3]!, info, { w: 3 })));
      const won = results.filter((r) => r.status === 'won');
      assert.ok(won.length <= 1, `round ${round}: ${won.length} claims got a 201`);
      const accepted = results.flatMap((r, i) => (r.status === 'accepted' ? [{ id, claimId: infos[i]!.claimId, node: i % 3 }] : []));
      if (won.length === 1) {
        wins++;
        assert.equal(accepted.length, 0, 'next to a 201 every other claim got a 409');
        continue;
      }
      if (accepted.length === 0) continue;
      splits++;
      // what each pilot does: wait out replication, then settle its own claim (all at once, racing each other)
      await new Promise((r) => setTimeout(r, 6000));
      const settled = await Promise.all(accepted.map((a) => settleUnconfirmedClaim(couches[a.node]!.http, a, { actor: `racer`, r: 3, w: 3 })));
      // what is still uncertain is looked at again, as the pilots do
      for (let again = 0; again < 5 && settled.some((s) => s.outcome === 'retry'); again++) {
        await new Promise((r) => setTimeout(r, 6000));
        for (let i = 0; i < settled.length; i++) if (settled[i]!.outcome === 'retry') settled[i] = await settleUnconfirmedClaim(couches[accepted[i]!.node]!.http, accepted[i]!, { actor: 'racer', r: 3, w: 3 });
      }
      assert.ok(settled.every((s) => s.outcome !== 'retry'), `round ${round}: settled: ${JSON.stringify(settled)}`);
      await waitFor(
        async () => {
          const seen = await Promise.all(couches.map((c) => c.http.expectOk<TokenDoc>({ path: c.http.docPath(id), query: { conflicts: true, r: 3 } })));
          return seen.every((d) => d.lock === 0 && !(d._conflicts ?? []).length);
        },
        { what: `round ${round}: the split token todo again on every node, with no conflicts`, timeoutMs: 60_000, intervalMs: 1000 },
      );
      const tok = await couches[0]!.http.expectOk<TokenDoc>({ path: couches[0]!.http.docPath(id) });
      assert.equal(tok.scrub_count, 0, 'a claim that never ran is no scrub');
      // and it can be claimed and won again
      const again = await claimDocument(couches[1]!.http, tok, claimers[0]!.claimInfo(), { w: 3 });
      assert.equal(again.status, 'won');
    }
  } finally {
    for (const c of couches) await c.close();
    await dropDb(db);
  }
  t.diagnostic(`${wins} rounds won by one 201, ${splits} rounds where every claim got 202 (each settled at once by its claimers)`);
});

/** The cluster's per-node state dir of ../shared/couchdb (where each node's pid file is). */
function clusterHome(): string {
  const base = process.env.PICAS_COUCHDB_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'picas-couchdb');
  return join(base, '3.5.0', 'cluster');
}
const couchdbScript = join(repoRoot, '..', 'shared', 'couchdb', 'couchdb');
const nodeStopSkip = skip ?? (existsSync(join(clusterHome(), 'node3', 'couchdb.pid')) && existsSync(couchdbScript) ? undefined : `the cluster was not started by ${couchdbScript} here (no ${join(clusterHome(), 'node3', 'couchdb.pid')}), so a node cannot be stopped and restarted`);

test('real cluster: a node stopped mid-run makes the pilots say which node is missing and back off; after it returns everything drains exactly once', { skip: nodeStopSkip, timeout: 900_000 }, async () => {
  const db = await freshClusterDb('nodedown');
  const all = nodes();
  const pidFile = join(clusterHome(), 'node3', 'couchdb.pid');
  let restarted = false;
  const restart = () => {
    if (restarted) return;
    restarted = true;
    const ports = all.map((n) => new URL(n.url).port).join(',');
    // the script sets the admin password from COUCHDB_PASSWORD: the one the cluster runs with
    const env = { ...process.env, COUCHDB_PASSWORD: all[0]!.password ?? 'pass' };
    execFileSync('bash', [couchdbScript, 'cluster', 'start', '--ports', ports], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 180_000, env });
  };
  try {
    const dir = scratchDir('picas-cluster-down-');
    const count = 200;
    const ledger = await pushLedgerTokens(db.name, count, dir);
    // pilots on node1 and node2 only: node3 is the one that goes away
    const env = (i: number) => envFor(all[i % 2]!, db.name);
    const runs = Array.from({ length: 4 }, (_, i) => runWorker(['--worker-id', `down-${i}`, '--lease', '60s'], { env: env(i), timeout: 600_000 }));
    await waitFor(() => ledgerCounts(ledger).size >= 40, { what: 'the first tokens to run', timeoutMs: 120_000 });
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    await waitFor(
      async () => {
        const m = await fetch(`${all[0]!.url}/_membership`, { headers: { authorization: `Basic ${Buffer.from(`${all[0]!.username}:${all[0]!.password}`).toString('base64')}` } }).then((r) => r.json() as Promise<{ all_nodes: string[] }>);
        return !m.all_nodes.includes('node3@127.0.0.1');
      },
      { what: 'node1 to see node3 gone', timeoutMs: 60_000 },
    );
    const before = ledgerCounts(ledger).size;
    // with node3 down no claim gets its 201: the pilots finish what they hold and back off, naming node3
    const waited = new Promise((r) => setTimeout(r, 15_000));
    // meanwhile an autoscaler cycle: every write of its state gets a 202 (w = 3 cannot be met), and is
    // counted only when read back as the winning revision (packages/autoscale state-store.ts)
    const autoscale = await runCli(['autoscale', '--backend', 'local', '--max-pilots', '2', '--walltime', '00:05:00', '--once', '--dry-run'], { env: envFor(all[0]!, db.name), cwd: dir });
    assert.equal(autoscale.exitCode, 0, autoscale.stderr);
    assert.match(autoscale.stdout, /· dry run: would submit \d+$/m);
    await waited;
    const during = ledgerCounts(ledger).size;
    assert.ok(during - before <= 8, `while node3 is down at most the tokens already held finish (${during - before} ran)`);
    restart();
    const results = await Promise.all(runs);
    for (const r of results) assert.equal(r.exitCode, 0, r.stderr.slice(-2000));
    const stderr = results.map((r) => r.stderr).join('\n');
    assert.match(stderr, /cluster degraded: node\(s\) node3@127\.0\.0\.1 cannot be reached/);
    await assertDrained(db.couch, ledger, count, 'after node3 returned');
    const state = await db.couch.http.expectOk<{ owner: string; lease_until: number; _conflicts?: string[] }>({ path: db.couch.http.docPath('picas-autoscaler'), query: { conflicts: true, r: 3 } });
    assert.deepEqual([state._conflicts, state.lease_until <= Date.now() / 1000 + 1], [undefined, true], 'the autoscaler state: one branch, its lease given up');
  } finally {
    restart();
    await dropDb(db);
  }
});
