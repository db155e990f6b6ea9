/**
 * A real CouchDB 3.5 single node stopped for several seconds while pilots run, then started again: every
 * token runs exactly once and every result is recorded. The node is one of its own (a port of its own,
 * started from ../shared/couchdb), so the run's shared server is not disturbed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCouch, type TokenDoc } from '@picas/core';
import { realCouchDBSkip, repoRoot, runCli, runWorker, scratchDir, waitFor } from '@picas/testkit';

const script = join(repoRoot, '..', 'shared', 'couchdb', 'couchdb');
const PORT = Number(process.env.PICAS_TEST_RESTART_PORT ?? 25990);
const skip = realCouchDBSkip('it stops and restarts a CouchDB node of its own') ?? (existsSync(script) ? undefined : `needs ${script} to start and stop a CouchDB node of its own`);

function couchdb(...args: string[]): string {
  return execFileSync('bash', [script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 }).trim();
}

test('a real CouchDB stopped for several seconds mid-run, then started again: every token runs once, every result is recorded', { skip, timeout: 600_000 }, async () => {
  const raw = couchdb('start', '--port', String(PORT), '--fresh');
  const u = new URL(raw);
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  const url = `http://127.0.0.1:${PORT}`;
  const env = { PICAS_URL: url, PICAS_DB: 'restart', PICAS_USERNAME: username, PICAS_PASSWORD: password };
  const couch = openCouch({ url, db: 'restart', username, password, embedded: false });
  try {
    const init = await runCli(['init'], { env });
    assert.equal(init.exitCode, 0, init.stderr);
    const dir = scratchDir('picas-restart-');
    const ledger = join(dir, 'ran.txt');
    const count = 80;
    writeFileSync(join(dir, 'tokens.txt'), Array.from({ length: count }, (_, i) => `sleep 0.2; echo r${i} >> '${ledger}'`).join('\n') + '\n');
    const push = await runCli(['push', join(dir, 'tokens.txt')], { env });
    assert.equal(push.exitCode, 0, push.stderr);

    const pilots = Array.from({ length: 3 }, (_, i) => runWorker(['--worker-id', `restart-${i}`, '--retry-for', '5m'], { env, timeout: 500_000 }));
    const ran = () => (existsSync(ledger) ? readFileSync(ledger, 'utf8').split('\n').filter(Boolean) : []);
    await waitFor(() => ran().length >= 10, { what: 'the first tokens to run', timeoutMs: 120_000 });
    couchdb('stop', '--port', String(PORT));
    await new Promise((r) => setTimeout(r, 6000));
    couchdb('start', '--port', String(PORT));
    const results = await Promise.all(pilots);
    for (const r of results) assert.equal(r.exitCode, 0, r.stderr.slice(-2000));
    const stderr = results.map((r) => r.stderr).join('\n');
    assert.match(stderr, /CouchDB unavailable/, 'the pilots saw the outage');

    const seen = new Map<string, number>();
    for (const id of ran()) seen.set(id, (seen.get(id) ?? 0) + 1);
    assert.deepEqual([...seen].filter(([, n]) => n > 1), [], 'no token ran twice');
    assert.equal(seen.size, count, 'every token ran');
    const body = await couch.http.expectOk<{ rows: Array<{ doc?: TokenDoc }> }>({ path: couch.http.dbPath('/_all_docs'), query: { include_docs: true, conflicts: true } });
    const tokens = body.rows.flatMap((r) => (r.doc?.type === 'token' ? [r.doc] : []));
    assert.equal(tokens.length, count);
    assert.deepEqual(tokens.filter((t) => !(t.done > 0 && Number(t.exit_code) === 0)).map((t) => t._id), [], 'every result is recorded as done');
    assert.deepEqual(tokens.filter((t) => t._conflicts?.length).map((t) => t._id), []);
  } finally {
    await couch.close();
    try {
      couchdb('stop', '--port', String(PORT));
    } catch {
      // already stopped
    }
  }
});
