import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClaimSpread, priorityOf } from '../src/ops/claim-spread.js';

function spread(random = () => 0.5) {
  let now = 1_000_000;
  const s = new ClaimSpread({ maxSpread: 1000, headEveryMs: 2000, random, now: () => now });
  return { s, tick: (ms: number) => (now += ms) };
}

const rows = (n: number, priority = 0) => Array.from({ length: n }, (_, i) => ({ key: [-priority, 1000 + i] }));

test('a claimer starts spread out, narrows to the head while it meets nobody, and spreads again on contention', () => {
  const { s } = spread(() => 0.999);
  // nothing known yet: the head, which also shows the top priority group
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 });
  s.observe({ kind: 'head', limit: 32 }, rows(32, 5), 5000);
  assert.equal(s.spread, 1000);
  assert.deepEqual(s.plan(32), { kind: 'spread', limit: 32, skip: 999, top: -5 });
  s.contention(false);
  assert.equal(s.spread, 800);
  for (let i = 0; i < 40; i++) s.contention(false);
  assert.equal(s.spread, 0);
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 }, 'alone: always the head');
  assert.equal(s.crowded, false);
  s.contention(true);
  assert.equal(s.spread, 1000, 'contention: the widest range at once');
  assert.equal(s.crowded, true);
  for (let i = 0; i < 8; i++) s.contention(false);
  assert.equal(s.crowded, false, 'eight calm rounds: alone again');
});

test('the offset stays inside the top priority group as far as it is known', () => {
  const { s } = spread(() => 0.999);
  // the head window already shows the next priority: the top group has 10 rows, too few to spread over
  s.observe({ kind: 'head', limit: 32 }, [...rows(10, 9), ...rows(22, 1)], 5000);
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
  assert.equal(s.plan(8).kind, 'spread');
  tick(2000);
  assert.equal(s.plan(8).kind, 'head');
});

test('priorityOf reads the first key element', () => {
  assert.equal(priorityOf([-3, 17]), -3);
  assert.equal(priorityOf('x'), 'x');
});

test('among competing pilots a bulk claim takes at most a 32nd of the todo pool (at least one)', async () => {
  const { fairShare } = await import('../src/ops/claim.js');
  assert.equal(fairShare(undefined), Infinity);
  assert.equal(fairShare(2000), 62);
  assert.equal(fairShare(256), 8);
  assert.equal(fairShare(40), 1);
  assert.equal(fairShare(3), 1);
  assert.equal(fairShare(0), 1);
});

test('a look at the top group (keys only) is needed first, and again every headEveryMs, only while spreading', () => {
  const { s, tick } = spread();
  assert.equal(s.needsProbe(), true, 'nothing known yet');
  s.observe({ kind: 'head', limit: 8 }, rows(8), 5000);
  assert.equal(s.needsProbe(), false);
  tick(2000);
  assert.equal(s.needsProbe(), true);
  s.observe({ kind: 'head', limit: 8 }, rows(8), 5000);
  for (let i = 0; i < 60; i++) s.contention(false);
  tick(5000);
  assert.equal(s.needsProbe(), false, 'alone at the head: the head read itself is the window');
});
