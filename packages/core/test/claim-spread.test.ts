import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClaimSpread, idBetween, priorityOf } from '../src/ops/claim-spread.js';

function spread(random = () => 0.5) {
  let now = 1_000_000;
  const s = new ClaimSpread({ enabled: true, headEveryMs: 2000, random, now: () => now });
  return { s, tick: (ms: number) => (now += ms) };
}

const rows = (n: number, priority = 0, created = 1000) => Array.from({ length: n }, (_, i) => ({ key: [-priority, created], id: `t_${String(i).padStart(4, '0')}` }));
const lastRow = (priority: number, created: number, id: string) => [{ key: [-priority, created], id }];

test('a claimer starts spread out, narrows to the head while it meets nobody, and spreads again on contention', () => {
  const { s } = spread(() => 0.5);
  // nothing known yet: the head, which also shows the top priority group
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 });
  s.observe({ kind: 'head', limit: 32 }, rows(32, 5));
  // a jump needs the group's last row first
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 });
  assert.deepEqual(s.lastRowQuery(), { descending: true, startkey: [-5, 1000], endkey: [-5, 1000], limit: 1, include_docs: false });
  s.observeLastRow(lastRow(5, 1000, 't_9998'));
  assert.equal(s.lastRowQuery(), undefined, 'known: not read again for a while');
  assert.equal(s.spread, 1);
  const jump = s.plan(32);
  assert.equal(jump.kind, 'jump');
  assert.ok(jump.kind === 'jump' && jump.top === -5 && jump.startkey[0] === -5 && jump.startkey[1] === 1000);
  assert.ok(jump.kind === 'jump' && jump.startkeyDocId > 't_0000' && jump.startkeyDocId < 't_9998', jump.kind === 'jump' ? jump.startkeyDocId : '');
  s.contention(false);
  assert.equal(s.spread, 0.8);
  for (let i = 0; i < 40; i++) s.contention(false);
  assert.equal(s.spread, 0);
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 }, 'alone: always the head');
  assert.equal(s.lastRowQuery(), undefined, 'at the head, the last row is not needed');
  assert.equal(s.crowded, false);
  s.contention(true);
  assert.equal(s.spread, 1, 'contention: the whole group at once');
  assert.equal(s.crowded, true);
  for (let i = 0; i < 8; i++) s.contention(false);
  assert.equal(s.crowded, false, 'eight calm rounds: alone again');
});

test('jumps stay inside the top priority group, in the run of its oldest second that goes on past the head', () => {
  const { s, tick } = spread(() => 0.999);
  // the head window already shows the next priority: the top group has 10 rows, nothing to spread over
  s.observe({ kind: 'head', limit: 32 }, [...rows(10, 9), ...rows(22, 1)]);
  assert.equal(s.lastRowQuery(), undefined);
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 });
  // one priority, two seconds in the window: the second one's run goes on
  tick(2000);
  s.observe({ kind: 'head', limit: 32 }, [...rows(10, 1, 999), ...rows(22, 1, 1000).map((r, i) => ({ ...r, id: `u_${i}` }))]);
  assert.deepEqual(s.lastRowQuery(), { descending: true, startkey: [-1, 1000], endkey: [-1, 1000], limit: 1, include_docs: false });
  s.observeLastRow(lastRow(1, 1000, 'u_9'));
  const jump = s.plan(32);
  assert.ok(jump.kind === 'jump' && jump.top === -1 && jump.startkey[0] === -1 && jump.startkey[1] === 1000, JSON.stringify(jump));
  assert.ok(jump.kind === 'jump' && jump.startkeyDocId >= 'u_0' && jump.startkeyDocId <= 'u_9', JSON.stringify(jump));
  // a jump that lands in the next second's run: this run's tokens are gone, look at the head again
  assert.equal(s.observe(jump, rows(8, 1, 1001)), false);
  assert.equal(s.needsProbe(), true);
  s.observe({ kind: 'head', limit: 32 }, rows(32, 1, 1000).map((r, i) => ({ ...r, id: `u_${i}` })));
  assert.equal(s.observe(jump, rows(8, 1, 1000)), true, 'inside the run');
  // an empty jump: the same
  assert.equal(s.observe(jump, []), false);
  s.observe({ kind: 'head', limit: 32 }, rows(32, 1, 1000).map((r, i) => ({ ...r, id: `u_${i}` })));
  // a last row of another second is not used
  s.observeLastRow(lastRow(1, 1001, 'u_5'));
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 });
  assert.ok(s.lastRowQuery(), 'read again');
});

test('a read at the head is made again regularly, so a new higher priority is seen', () => {
  const { s, tick } = spread();
  s.observe({ kind: 'head', limit: 8 }, rows(8));
  s.observeLastRow(lastRow(0, 1000, 't_9000'));
  assert.equal(s.plan(8).kind, 'jump');
  assert.equal(s.needsProbe(), false);
  tick(2000);
  assert.equal(s.needsProbe(), true);
});

test('the group\'s last row is read again every 30 s', () => {
  const { s, tick } = spread();
  s.observe({ kind: 'head', limit: 8 }, rows(8));
  s.observeLastRow(lastRow(0, 1000, 't_9000'));
  tick(29_000);
  s.observe({ kind: 'head', limit: 8 }, rows(8));
  assert.equal(s.lastRowQuery(), undefined);
  tick(1_000);
  assert.ok(s.lastRowQuery());
});

test('a spread that is turned off always reads at the head', () => {
  const s = new ClaimSpread({ enabled: false, headEveryMs: 2000, random: Math.random, now: Date.now });
  s.observe({ kind: 'head', limit: 8 }, rows(8));
  s.contention(true);
  assert.equal(s.crowded, true, 'contention is still known (fair shares, smaller windows)');
  assert.equal(s.needsProbe(), false);
  assert.equal(s.lastRowQuery(), undefined);
  assert.deepEqual(s.plan(8), { kind: 'head', limit: 8 });
});

test('idBetween interpolates after the common prefix, in the ids\' own alphabet', () => {
  assert.equal(idBetween('t_000000', 't_999999', 0), 't_000000');
  assert.equal(idBetween('t_000000', 't_999999', 0.5), 't_499999');
  assert.equal(idBetween('t_999999', 't_000000', 0.5), 't_499999', 'order of the bounds does not matter');
  // content hashes: hex
  const h = idBetween('token_00a1', 'token_ff03', 0.5);
  assert.match(h, /^token_[0-9a-f]{6}$/);
  assert.ok(h > 'token_7f' && h < 'token_81', h);
  // PiCaS' numbered ids: digits only, between the bounds
  for (const u of [0.1, 0.3, 0.7, 0.9]) {
    const id = idBetween('token_0', 'token_9999', u);
    assert.match(id, /^token_\d+$/);
    assert.ok(id >= 'token_0' && id <= 'token_9999', id);
  }
  // anything else: letters, digits, '-' and '_'
  const m = idBetween('Sample-A', 'sample-z', 0.5);
  assert.ok(m >= 'Sample-A' && m <= 'sample-z', m);
  assert.equal(idBetween('same', 'same', 0.7).startsWith('same'), true);
});

test('a claimer that keeps losing waits longer, at random, up to about 2 s', async () => {
  const { contendedBackoffMs } = await import('../src/ops/claim.js');
  assert.equal(contendedBackoffMs(1, () => 0), 20);
  assert.equal(contendedBackoffMs(1, () => 1), 70);
  assert.equal(contendedBackoffMs(3, () => 1), 220);
  assert.equal(contendedBackoffMs(10, () => 1), 2020);
  assert.equal(contendedBackoffMs(60, () => 0.5), 1020);
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
  s.observe({ kind: 'head', limit: 8 }, rows(8));
  assert.equal(s.needsProbe(), false);
  tick(2000);
  assert.equal(s.needsProbe(), true);
  s.observe({ kind: 'head', limit: 8 }, rows(8));
  for (let i = 0; i < 60; i++) s.contention(false);
  tick(5000);
  assert.equal(s.needsProbe(), false, 'alone at the head: the head read itself is the window');
});
