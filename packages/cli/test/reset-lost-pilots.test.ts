/**
 * A pilot killed with -9 leaves its tokens locked until their lease runs out. `picas pilots` shows it lost
 * once it missed its renewals, and `picas reset --pilot ID` (or `--lost`) puts its tokens back to todo at
 * once, fenced like every reset: a token its pilot completed (or another pilot claimed) meanwhile is left
 * as it is. Real pilots, real kill -9.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finished, lockedBy, newToken, type TokenDoc } from '@picas/core';
import { fileLabel, freshDatabase, processAlive, runCli, runWorker, waitFor } from '@picas/testkit';
import { getDoc, putDocs, tempDir } from './fixtures.js';

const db = await freshDatabase(fileLabel(import.meta.url));
await runCli(['init'], { env: db.env });
const cli = (args: readonly string[], env: Record<string, string> = {}) => runCli(args, { env: { ...db.env, ...env } });

function readPid(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const n = Number(readFileSync(path, 'utf8').trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

function killGroup(pgid: number | undefined): void {
  try {
    if (pgid) process.kill(-pgid, 'SIGKILL');
  } catch {
    // gone already
  }
}

async function pilotStates(): Promise<Record<string, string>> {
  const r = await cli(['pilots', '--json']);
  assert.equal(r.exitCode, 0, r.stderr);
  return Object.fromEntries((JSON.parse(r.stdout) as Array<{ pilot_id: string; shown: string }>).map((p) => [p.pilot_id, p.shown]));
}

test('a pilot killed with -9 is shown lost; reset --pilot and --lost free its token at once; a new pilot runs it', { timeout: 120_000 }, async (t) => {
  const dir = tempDir();
  // the first run of each token hangs (its shell's pid is written down); any later run finishes at once
  const body = (id: string) => `echo "$PICAS_TOKEN_ID" >> '${dir}/runs.txt'; if [ ! -e '${dir}/${id}.first' ]; then touch '${dir}/${id}.first'; echo $$ > '${dir}/${id}.pid'; sleep 60; fi`;
  await putDocs(db.couch, [newToken('long_a', body('long_a')), newToken('long_b', body('long_b'))]);

  // two pilots, each holding one of the tokens; a short lease, so that their renewals are missed quickly
  const pilots = ['doomed-a', 'doomed-b'].map((id, i) => ({ id, token: i === 0 ? 'long_a' : 'long_b' }));
  const procs = [];
  for (const p of pilots) {
    const proc = runWorker(['--lease', '6s', '--worker-id', p.id, '--prefetch', '1', '--workdir', dir], { env: db.env });
    t.after(() => proc.kill('SIGKILL'));
    procs.push(proc);
    // one at a time: each takes the next free token
    await waitFor(() => readdirPid(dir), { what: `${p.id} to start a token` });
  }
  const shells = ['long_a', 'long_b'].map((id) => readPid(join(dir, `${id}.pid`)));
  t.after(() => shells.forEach(killGroup));
  const holder = async (id: string) => (await getDoc<TokenDoc>(db.couch, id)).worker_id!;
  const holders = { a: await holder('long_a'), b: await holder('long_b') };
  assert.deepEqual(new Set([holders.a, holders.b]), new Set(['doomed-a', 'doomed-b']), 'each pilot holds one token');
  assert.deepEqual(await pilotStates(), { 'doomed-a': 'running', 'doomed-b': 'running' });

  for (const proc of procs) proc.kill('SIGKILL');
  for (const proc of procs) assert.equal((await proc).signal, 'SIGKILL');

  // their records miss their renewals: lost, without waiting for any lease of theirs to be reclaimed
  await waitFor(async () => Object.values(await pilotStates()).every((s) => s === 'lost'), { what: 'both pilots to be shown lost', timeoutMs: 30_000, intervalMs: 500 });
  const table = await cli(['pilots']);
  assert.match(table.stdout, /doomed-a\s+lost/);
  for (const id of ['long_a', 'long_b']) assert.ok((await getDoc<TokenDoc>(db.couch, id)).lock > 0, `${id} is still locked by its dead pilot`);

  // --pilot frees that pilot's token only
  const one = await cli(['reset', '--pilot', holders.a]);
  assert.equal(one.exitCode, 0, one.stderr);
  assert.equal(one.stdout, 'reset long_a\nreset 1 token to todo');
  const freed = await getDoc<TokenDoc>(db.couch, 'long_a');
  assert.deepEqual([freed.lock, freed.done, freed.scrub_count, freed.lease_until, freed.claim_id], [0, 0, 1, 0, undefined]);
  assert.match(freed.events!.at(-1)!.message!, new RegExp(`^reset by picas reset: held by pilot ${holders.a}$`));
  assert.ok((await getDoc<TokenDoc>(db.couch, 'long_b')).lock > 0, 'the other pilot\'s token is left alone');

  // --lost frees what every lost pilot holds (a dry run first)
  const dry = await cli(['reset', '--lost', '--dry-run']);
  assert.equal(dry.stdout, 'would reset long_b\ndry run: would reset 1 token to todo; nothing was changed');
  assert.match(dry.stderr, /lost pilots: doomed-a, doomed-b|lost pilots: doomed-b, doomed-a/);
  const lost = await cli(['reset', '--lost']);
  assert.equal(lost.exitCode, 0, lost.stderr);
  assert.equal(lost.stdout, 'reset long_b\nreset 1 token to todo');
  assert.equal((await getDoc<TokenDoc>(db.couch, 'long_b')).lock, 0);

  // a new pilot runs both at once (no lease to wait for)
  const rescuer = await runWorker(['--lease', '6s', '--worker-id', 'rescuer'], { env: db.env });
  assert.equal(rescuer.exitCode, 0, rescuer.stderr);
  assert.match(rescuer.stdout, /done 2, failed 0/);
  for (const id of ['long_a', 'long_b']) {
    const tok = await getDoc<TokenDoc>(db.couch, id);
    assert.deepEqual([tok.exit_code, tok.worker_id, tok.scrub_count], [0, 'rescuer', 1], id);
  }
  assert.deepEqual(await pilotStates(), { 'doomed-a': 'lost', 'doomed-b': 'lost', rescuer: 'finished' });
  const none = await cli(['reset', '--lost']);
  assert.equal(none.exitCode, 0, none.stderr);
  assert.equal(none.stdout, 'reset 0 tokens to todo', 'lost pilots without tokens: nothing to reset');
  for (const pid of shells) await waitFor(() => !processAlive(pid!), { what: 'the dead pilots\' commands to end', timeoutMs: 30_000 });
});

/** Any pid file of a started first run that was not seen before. */
const seenPids = new Set<string>();
function readdirPid(dir: string): string | undefined {
  for (const id of ['long_a', 'long_b']) {
    if (!seenPids.has(id) && readPid(join(dir, `${id}.pid`))) {
      seenPids.add(id);
      return id;
    }
  }
  return undefined;
}

test('reset --pilot is fenced: a token its pilot completed, or another pilot claimed, meanwhile is left as it is', async () => {
  const nowMs = Date.now();
  const claim = (id: string, pilot: string) => lockedBy(newToken(id, `run ${id}`), { workerId: pilot, claimId: `${pilot}:${id}`, hostname: 'node1', leaseMs: 300_000, now: nowMs });
  await putDocs(db.couch, [claim('fence_done', 'ghost'), claim('fence_taken', 'ghost'), claim('fence_free', 'ghost'), claim('other_pilot', 'alive')]);
  // the reset reads its page, then waits 3 s before writing it; meanwhile the ghost completes one token and
  // another pilot takes over the other (should the reset read after that, it does not select them at all:
  // either way, they must be left as they are)
  const reset = cli(['reset', '--pilot', 'ghost'], { PICAS_PAGE_PAUSE_MS: '3000' });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const done = await getDoc<TokenDoc>(db.couch, 'fence_done');
  await db.couch.http.expectOk({ method: 'PUT', path: db.couch.http.docPath('fence_done'), body: finished(done, { exitCode: 0, started: nowMs / 1000, finished: nowMs / 1000 + 1 }) });
  const taken = await getDoc<TokenDoc>(db.couch, 'fence_taken');
  await db.couch.http.expectOk({ method: 'PUT', path: db.couch.http.docPath('fence_taken'), body: lockedBy({ ...taken, lock: 0 }, { workerId: 'thief', claimId: 'thief:1', hostname: 'node2', leaseMs: 300_000 }) });
  const r = await reset;
  assert.equal(r.exitCode, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.ok(lines.includes('reset fence_free'), r.stdout);
  assert.match(lines.at(-1)!, /^reset 1 token to todo(; skipped 2)?$/);
  for (const line of lines.filter((l) => l.startsWith('skipped'))) assert.match(line, /^skipped fence_(done|taken): changed since it was read \(conflict\): left as it is$/);
  assert.equal((await getDoc<TokenDoc>(db.couch, 'fence_done')).exit_code, 0, 'the completed result is kept');
  assert.equal((await getDoc<TokenDoc>(db.couch, 'fence_taken')).worker_id, 'thief', 'the new claim is kept');
  assert.equal((await getDoc<TokenDoc>(db.couch, 'other_pilot')).worker_id, 'alive', 'another pilot\'s token is not touched');
  // by id, a token of another pilot is skipped with the reason
  const byId = await cli(['reset', '--pilot', 'ghost', 'other_pilot']);
  assert.equal(byId.stdout, 'skipped other_pilot: held by alive, not by ghost\nreset 0 tokens to todo; skipped 1');
});
