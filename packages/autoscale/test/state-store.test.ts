/**
 * The autoscaler's state document against the test server (embedded, or a real CouchDB): the lease, a
 * pause written between a controller's read and its write, a take-over once the lease has run out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileLabel, freshDatabase } from '@picas/testkit';
import { LeaseHeldError, LeaseLostError, StateStore } from '../src/state-store.js';

test('one lease per pool: refused while it lives, taken over after; a pause written meanwhile is kept; the old owner then stops', async () => {
  const db = await freshDatabase(fileLabel(import.meta.url));
  const a = new StateStore(db.couch.http, 'host:1:aaa');
  const b = new StateStore(db.couch.http, 'host:2:bbb');
  const now = 1_000_000;
  let stateA = await a.acquire({ backend: 'slurm', settings: { max_pilots: 3 }, leaseS: 30, nowS: now });
  assert.equal(stateA.owner, 'host:1:aaa');
  await assert.rejects(b.acquire({ backend: 'slurm', settings: {}, leaseS: 30, nowS: now + 10 }), (err: Error) => err instanceof LeaseHeldError && /another controller \(host:1:aaa\) runs on pool \S+; its lease ends in 20 s/.test(err.message));
  await assert.rejects(b.refuseIfHeld(now + 10), LeaseHeldError);

  // `picas autoscale pause` writes between A's read and A's write: A's write conflicts, and the pause stays
  await new StateStore(db.couch.http, '').update((d) => ({ ...d, paused: { reason: 'by hand', at: now + 1, resume: 'picas autoscale resume' } }));
  stateA = await a.save({ ...stateA, heartbeat: now + 2, lease_until: now + 32 }, (latest) => ({ ...latest, heartbeat: now + 2, lease_until: now + 32 }));
  assert.equal(stateA.paused?.reason, 'by hand');
  assert.equal(stateA.lease_until, now + 32);

  // A's lease runs out: B takes over, keeping what A left
  const stateB = await b.acquire({ backend: 'slurm', settings: {}, leaseS: 30, nowS: now + 40 });
  assert.equal(stateB.owner, 'host:2:bbb');
  assert.equal(stateB.paused?.reason, 'by hand');
  // A comes back with its old revision: it learns that it lost the pool
  await assert.rejects(a.save({ ...stateA, heartbeat: now + 41 }, (latest) => latest), LeaseLostError);
});
