import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClaimSpread, priorityOf } from '../src/ops/claim-spread.js';

function spread(random = () => 0.5) {
  let now = 1_000_000;
  const s = new ClaimSpread({ maxSpread: 1000, headEveryMs: 2000, random, now: () => now });
  return { s, tick: (ms: number) => (now += ms) };
}

const rows = (n: number, priority = 0) => Array.from({ length: n }, (_, i) => ({ key: [-priority, 1000 + i] }));

test('alone (no contention), a claimer always reads at the head', () => {
  const { s } = spread();
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 });
  s.observe({ kind: 'head', limit: 32 }, rows(32), 5000);
  s.contention(32, false);
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 });
});

test('contention widens the random offset inside the top priority group; calm narrows it back', () => {
  const { s } = spread(() => 0.999);
  s.observe({ kind: 'head', limit: 32 }, rows(32, 5), 5000);
  s.contention(32, true);
  assert.equal(s.spread, 128);
  assert.deepEqual(s.plan(32), { kind: 'spread', limit: 32, skip: 128, top: -5 });
  s.contention(32, true);
  assert.equal(s.spread, 512);
  for (let i = 0; i < 10; i++) s.contention(32, true);
  assert.equal(s.spread, 1000, 'never past maxSpread');
  for (let i = 0; i < 400; i++) s.contention(32, false);
  assert.equal(s.spread, 0);
  assert.equal(s.plan(32).kind, 'head');
});

test('the offset stays inside the top priority group as far as it is known', () => {
  const { s } = spread(() => 0.999);
  // the head window already shows the next priority: the top group has 10 rows, too few to spread over
  s.observe({ kind: 'head', limit: 32 }, [...rows(10, 9), ...rows(22, 1)], 5000);
  s.contention(32, true);
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 });
  // a group of unknown size (the whole window is one priority) is bounded by total_rows
  s.observe({ kind: 'head', limit: 32 }, rows(32, 1), 100);
  assert.deepEqual(s.plan(32), { kind: 'spread', limit: 32, skip: 68, top: -1 });
  // a spread read that comes back short shows where the group ends; an empty one asks for the head
  assert.equal(s.observe({ kind: 'spread', limit: 32, skip: 50, top: -1 }, rows(5, 1), 100), true);
  assert.deepEqual(s.plan(32), { kind: 'spread', limit: 32, skip: 23, top: -1 });
  assert.equal(s.observe({ kind: 'spread', limit: 32, skip: 23, top: -1 }, [], 100), false);
});

test('a read at the head is made again regularly, so a new higher priority is seen', () => {
  const { s, tick } = spread();
  s.observe({ kind: 'head', limit: 8 }, rows(8), 5000);
  s.contention(8, true);
  assert.equal(s.plan(8).kind, 'spread');
  tick(2000);
  assert.equal(s.plan(8).kind, 'head');
});

test('priorityOf reads the first key element', () => {
  assert.equal(priorityOf([-3, 17]), -3);
  assert.equal(priorityOf('x'), 'x');
});
