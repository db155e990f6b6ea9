// The capacity's pure transitions: slots as permits (reserve, release, hand over) and the time-budget fit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Capacity, isUnfit, type Reservation } from '../src/capacity.js';
import { TimeBudget } from '../src/time-budget.js';

const noBudget = () => new TimeBudget({ marginMs: 0, runtimeFactor: 1 });

function reserve(capacity: Capacity, id: string): Reservation {
  const r = capacity.tryReserve({ _id: id });
  assert.ok(!isUnfit(r), `a slot for ${id}`);
  return r;
}

test('a slot is a permit: reserved until released, once; no free slot is a reason, not an error', () => {
  const capacity = new Capacity({ slots: 2, budget: noBudget() });
  assert.equal(capacity.free(), 2);
  const a = reserve(capacity, 'a');
  const b = reserve(capacity, 'b');
  assert.equal(capacity.free(), 0);
  assert.deepEqual(capacity.tryReserve({ _id: 'c' }), { fits: false, reason: 'no-free-slot' });
  assert.equal(capacity.release(a, 'command-ended'), true);
  assert.equal(a.state, 'released');
  assert.equal(a.releasedFor, 'command-ended');
  assert.equal(capacity.release(a, 'finished'), false, 'a second release changes nothing');
  assert.equal(a.releasedFor, 'command-ended');
  assert.equal(capacity.free(), 1);
  assert.equal(capacity.inUse, 1);
  reserve(capacity, 'c');
  assert.equal(capacity.release(b, 'finished'), true);
  assert.equal(capacity.free(), 1);
});

test('handOver passes a held slot to a dependent: the count stays, only the dependent can release it', () => {
  const capacity = new Capacity({ slots: 1, budget: noBudget() });
  const parent = reserve(capacity, 'parent');
  const child = capacity.handOver(parent, { _id: 'child' });
  assert.equal(parent.state, 'handed-over');
  assert.equal(child.state, 'held');
  assert.equal(child.tokenId, 'child');
  assert.equal(capacity.free(), 0);
  assert.equal(capacity.release(parent, 'finished'), false, 'the parent finishing later frees nothing');
  assert.equal(capacity.free(), 0);
  assert.throws(() => capacity.handOver(parent, { _id: 'other' }), /handed-over, not held/);
  assert.equal(capacity.release(child, 'finished'), true);
  assert.equal(capacity.free(), 1);
});

test('room for takes: the free slots plus the completing token own slot, less held tokens waiting to start', () => {
  const capacity = new Capacity({ slots: 4, budget: noBudget() });
  const own = reserve(capacity, 'parent');
  reserve(capacity, 'other');
  assert.equal(capacity.roomForTakes(own, 0), 3);
  assert.equal(capacity.roomForTakes(own, 2), 1);
  assert.equal(capacity.roomForTakes(own, 3), 0);
  capacity.release(own, 'command-ended');
  assert.equal(capacity.roomForTakes(own, 0), 3, 'a released slot counts once, as free');
  assert.equal(capacity.roomForTakes(undefined, 0), 3);
});

test('fits: the time budget, with the numbers of why not', () => {
  const now = 1_000_000;
  const budget = new TimeBudget({ endAtMs: now + 60_000, marginMs: 10_000, runtimeFactor: 1 });
  const capacity = new Capacity({ slots: 1, budget });
  assert.deepEqual(capacity.fits({ expected_seconds: 50 }, now), { fits: true });
  assert.deepEqual(capacity.fits({ expected_seconds: 51 }, now), { fits: false, reason: 'time-budget', expectedMs: 51_000, remainingMs: 60_000, marginMs: 10_000 });
  assert.deepEqual(capacity.fits({}, now), { fits: true }, 'nothing known yet');
  capacity.recordRun(55_000);
  assert.equal(capacity.fits({}, now).fits, false, 'the mean runtime seen so far');
  assert.deepEqual(new Capacity({ slots: 1, budget: noBudget() }).fits({ expected_seconds: 1e9 }), { fits: true }, 'no budget: everything fits');
  reserve(capacity, 'a');
  assert.equal(capacity.fits({ expected_seconds: 1 }, now).fits, true, 'fitting does not ask for a free slot');
});

test('claim depth: the prefetch setting, from the runtimes seen so far', () => {
  const capacity = new Capacity({ slots: 1, budget: noBudget() });
  assert.equal(capacity.claimDepth('auto', true), 1);
  capacity.recordRun(250);
  assert.equal(capacity.claimDepth('auto', true), 8);
  assert.equal(capacity.claimDepth('auto', false), 1, 'on a cluster one at a time');
  assert.equal(capacity.claimDepth(5, true), 5);
});

test('packing: a reservation takes cores, GPUs and memory; GPUs are never shared; memory is counted', () => {
  const capacity = new Capacity({ slots: 4, budget: noBudget(), pool: { cpus: 4, gpus: ['0', '1'], mem: 8 * 1024 }, reserveAfterMs: 60_000 });
  const two = capacity.tryReserve({ _id: 'two', resources: { cpus: 2, gpus: 1, mem: 1024 } });
  assert.ok(!isUnfit(two));
  assert.deepEqual([two.grant.cores, two.grant.gpus], [[0, 1], ['0']]);
  const gpu = capacity.tryReserve({ _id: 'gpu', resources: { cpus: 1, gpus: 1, mem: 0 } });
  assert.ok(!isUnfit(gpu));
  assert.deepEqual([gpu.grant.cores, gpu.grant.gpus], [[2], ['1']]);
  assert.deepEqual(capacity.tryReserve({ _id: 'gpu2', resources: { cpus: 1, gpus: 1, mem: 0 } }), { fits: false, reason: 'no-room', needs: { cpus: 1, gpus: 1, mem: 0 }, free: { cpus: 1, gpus: 0, mem: 7 * 1024 } });
  assert.equal(isUnfit(capacity.tryReserve({ _id: 'mem', resources: { cpus: 1, gpus: 0, mem: 8 * 1024 } })), true, 'memory is counted');
  assert.equal(capacity.free(), 1, 'one one-core token can still start');
  capacity.release(two, 'finished');
  const four = capacity.tryReserve({ _id: 'four', resources: { cpus: 3, gpus: 1, mem: 0 } });
  assert.ok(!isUnfit(four));
  assert.deepEqual(four.grant.gpus, ['0'], 'the freed GPU is handed out again');
});

test('fits: a token larger than the whole pilot is too large, not a reason to leave', () => {
  const capacity = new Capacity({ slots: 4, budget: noBudget(), pool: { cpus: 4, gpus: [], mem: 1024 } });
  assert.deepEqual(capacity.fits({ resources: { cpus: 8 } }), { fits: false, reason: 'too-large', needs: { cpus: 8, gpus: 0, mem: 0 }, total: { cpus: 4, gpus: 0, mem: 1024 } });
  assert.deepEqual(capacity.fits({ resources: { cpus: 4, mem: 1024 } }), { fits: true });
  assert.equal(capacity.fits({ resources: { cpus: 1, gpus: 1 } }).fits, false);
});

test('claimFilter: what fits the room less the queued tokens; one-core tokens while a core is free; a starved large token reserves the room', () => {
  const nowMs = 1_000_000_000;
  const capacity = new Capacity({ slots: 4, budget: noBudget(), pool: { cpus: 4, gpus: [], mem: 1024 }, reserveAfterMs: 300_000 });
  reserve(capacity, 'running'); // one core busy
  const filter = capacity.claimFilter([{ _id: 'queued', resources: { cpus: 2 } }], { nowMs });
  assert.deepEqual(filter.room.now, { cpus: 1, gpus: 0, mem: 1024 });
  assert.deepEqual(filter.room.empty, { cpus: 4, gpus: 0, mem: 1024 });
  assert.equal(filter.accept({ _id: 'big', resources: { cpus: 2 }, created: nowMs / 1000 } as never).fits, false, 'a fresh 2-cpu token waits for room');
  assert.equal(filter.accept({ _id: 'small' } as never).fits, true);
  const starved = capacity.claimFilter([], { nowMs });
  assert.equal(starved.accept({ _id: 'old', resources: { cpus: 4 }, created: nowMs / 1000 - 301 } as never).fits, true, 'waited longer than --reserve-after: reserved');
  assert.equal(starved.accept({ _id: 'small' } as never).fits, false, 'then no small token is taken');
  const behind = capacity.claimFilter([{ _id: 'old', resources: { cpus: 4 } }], { nowMs });
  assert.equal(behind.room.now.cpus, 0, 'while the reserved token waits, the room is its');
  assert.equal(behind.room.reserveAfterMs, undefined, 'one reservation at a time');
});

test('claimFilter: larger tokens whose shape the room had are taken beyond it, up to the prefetch depth in cores', () => {
  const capacity = new Capacity({ slots: 4, budget: noBudget(), pool: { cpus: 4, gpus: [], mem: 1024 }, reserveAfterMs: 300_000 });
  const four = (id: string) => ({ _id: id, resources: { cpus: 4 }, created: Date.now() / 1000 }) as never;
  const filter = capacity.claimFilter([], { depth: 8 });
  assert.equal(filter.accept(four('a')).fits, true, 'fits the room: booked');
  assert.equal(filter.accept(four('b')).fits, true, 'the room had its shape: queued behind');
  assert.equal(filter.accept(four('c')).fits, true);
  assert.equal(filter.accept(four('d')).fits, false, 'beyond the depth (8 cores ahead)');
  assert.equal(filter.accept({ _id: 'small' } as never).fits, true, 'one-core tokens as the claim asks');
  reserve(capacity, 'running');
  const partial = capacity.claimFilter([], { depth: 16 });
  assert.equal(partial.accept(four('e')).fits, false, 'a shape the room did not have waits for room');
  assert.equal(capacity.claimFilter([], {}).accept({ _id: 'two', resources: { cpus: 2 } } as never).fits, true, 'fits the room (depth 1)');
});

test('claimFilter: aheadCores lets more larger tokens queue than the depth in cores, never more tokens than the depth', () => {
  const capacity = new Capacity({ slots: 4, budget: noBudget(), pool: { cpus: 4, gpus: [], mem: 1024 } });
  const four = (id: string) => ({ _id: id, resources: { cpus: 4 }, created: Date.now() / 1000 }) as never;
  const byCores = capacity.claimFilter([], { depth: 16, aheadCores: 40 });
  const taken = Array.from({ length: 14 }, (_, i) => byCores.accept(four(`t${i}`)).fits).filter(Boolean).length;
  assert.equal(taken, 11, 'one in the room, ten (40 cores) behind it');
  const byTokens = capacity.claimFilter([], { depth: 3, aheadCores: 40 });
  assert.equal(Array.from({ length: 6 }, (_, i) => byTokens.accept(four(`u${i}`)).fits).filter(Boolean).length, 4, 'one in the room, three (the depth) behind it');
});

test('canHandOver: a dependent takes over when what its parent holds plus what is free covers it', () => {
  const capacity = new Capacity({ slots: 4, budget: noBudget(), pool: { cpus: 4, gpus: [], mem: 0 } });
  const parent = reserve(capacity, 'parent');
  reserve(capacity, 'a');
  reserve(capacity, 'b');
  assert.equal(capacity.canHandOver(parent, { _id: 'dep', resources: { cpus: 2 } }), true);
  assert.equal(capacity.canHandOver(parent, { _id: 'dep', resources: { cpus: 3 } }), false);
  assert.equal(capacity.free(), 1, 'asking changed nothing');
  const dep = capacity.handOver(parent, { _id: 'dep', resources: { cpus: 2 } });
  assert.equal(dep.grant.cores.length, 2);
  assert.equal(capacity.free(), 0);
});
