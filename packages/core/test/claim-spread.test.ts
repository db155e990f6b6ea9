import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClaimSpread, MAX_RUNS, idBetween, idSpan, priorityOf, type LearnQuery } from '../src/ops/claim-spread.js';

function spread(random = () => 0.5) {
  let now = 1_000_000;
  const s = new ClaimSpread({ enabled: true, headEveryMs: 2000, random, now: () => now });
  return { s, tick: (ms: number) => (now += ms) };
}

const rows = (n: number, priority = 0, created = 1000) => Array.from({ length: n }, (_, i) => ({ key: [-priority, created], id: `t_${String(i).padStart(4, '0')}` }));
const lastRow = (priority: number, created: number, id: string) => [{ key: [-priority, created], id }];
/** the query of the next learning read, if any */
const learnQuery = (s: ClaimSpread) => s.learnQuery()?.query;
/** answers the next learning read with `rows` */
const learn = (s: ClaimSpread, rows: Array<{ key: unknown; id: string }>) => {
  const q = s.learnQuery() as LearnQuery;
  assert.ok(q, 'a learning read is due');
  s.observeLearned(q, rows);
  return q;
};

test('a claimer starts spread out, narrows to the head while it meets nobody, and spreads again on contention', () => {
  const { s } = spread(() => 0.5);
  // nothing known yet: the head, which also shows the top priority group
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 });
  s.observe({ kind: 'head', limit: 32 }, rows(32, 5));
  // a jump needs the group's last row first
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 });
  assert.deepEqual(learnQuery(s), { descending: true, startkey: [-5, 1000], endkey: [-5, 1000], limit: 1, include_docs: false });
  learn(s, lastRow(5, 1000, 't_9998'));
  assert.equal(s.learnQuery()?.learn.kind, 'next', 'the last row known: then a look for the next run');
  learn(s, []);
  assert.equal(learnQuery(s), undefined, 'all known: not read again for a while');
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
  assert.equal(learnQuery(s), undefined, 'at the head, the last row is not needed');
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
  assert.equal(learnQuery(s), undefined);
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 });
  // one priority, two seconds in the window: the second one's run goes on
  tick(2000);
  s.observe({ kind: 'head', limit: 32 }, [...rows(10, 1, 999), ...rows(22, 1, 1000).map((r, i) => ({ ...r, id: `u_${i}` }))]);
  assert.deepEqual(learnQuery(s), { descending: true, startkey: [-1, 1000], endkey: [-1, 1000], limit: 1, include_docs: false });
  learn(s, lastRow(1, 1000, 'u_9'));
  const jump = s.plan(32);
  assert.ok(jump.kind === 'jump' && jump.top === -1 && jump.startkey[0] === -1 && jump.startkey[1] === 1000, JSON.stringify(jump));
  assert.ok(jump.kind === 'jump' && jump.startkeyDocId >= 'u_0' && jump.startkeyDocId <= 'u_9', JSON.stringify(jump));
  // a jump that lands in the next second's run: this run's tokens are gone, look at the head again
  assert.equal(s.observe(jump, rows(8, 1, 1001)), false);
  assert.equal(s.needsProbe(), true);
  assert.deepEqual(s.runs, []);
  s.observe({ kind: 'head', limit: 32 }, rows(32, 1, 1000).map((r, i) => ({ ...r, id: `u_${i}` })));
  learn(s, lastRow(1, 1000, 'u_9'));
  assert.equal(s.observe(jump, rows(8, 1, 1000)), true, 'inside the run');
  // an empty jump: the same
  assert.equal(s.observe(jump, []), false);
  assert.equal(s.needsProbe(), true);
  s.observe({ kind: 'head', limit: 32 }, rows(32, 1, 1000).map((r, i) => ({ ...r, id: `u_${i}` })));
  // a last row of another second: this second's tokens are gone
  learn(s, lastRow(1, 1001, 'u_5'));
  assert.deepEqual(s.plan(32), { kind: 'head', limit: 32 });
  assert.equal(s.needsProbe(), true, 'the head again');
});

test('while it spreads, a claimer jumps into the next runs too, learned one key at a time', () => {
  let r = 0.5;
  const { s, tick } = spread(() => r);
  s.observe({ kind: 'head', limit: 8 }, rows(8, 2, 1000));
  learn(s, lastRow(2, 1000, 't_0999'));
  // the first row after second 1000
  const next = learn(s, [{ key: [-2, 1003], id: 't_1000' }]);
  assert.deepEqual(next.query, { startkey: [-2, 1000, {}], endkey: [-2, {}], limit: 1, include_docs: false });
  assert.deepEqual(s.runs, [1000, 1003]);
  // a run is jumped into only once its last row is known
  r = 0.99;
  assert.deepEqual((s.plan(8) as { startkey: unknown[] }).startkey, [-2, 1000]);
  assert.deepEqual(learnQuery(s), { descending: true, startkey: [-2, 1003], endkey: [-2, 1003], limit: 1, include_docs: false });
  learn(s, lastRow(2, 1003, 't_1999'));
  const far = s.plan(8);
  assert.ok(far.kind === 'jump' && far.startkey[1] === 1003 && far.startkeyDocId > 't_1900' && far.startkeyDocId <= 't_1999', JSON.stringify(far));
  r = 0.25;
  const near = s.plan(8);
  assert.ok(near.kind === 'jump' && near.startkey[1] === 1000 && near.startkeyDocId > 't_04' && near.startkeyDocId < 't_06', JSON.stringify(near));
  // up to MAX_RUNS runs
  for (let c = 1004; c < 1000 + MAX_RUNS + 2; c++) {
    learn(s, [{ key: [-2, c], id: `t_${c}000` }]);
    learn(s, lastRow(2, c, `t_${c}999`));
  }
  assert.equal(s.runs.length, MAX_RUNS);
  assert.equal(learnQuery(s), undefined, 'enough runs');
  // a head read keeps what was learned of the later runs
  tick(2000);
  s.observe({ kind: 'head', limit: 8 }, rows(8, 2, 1000).map((x, i) => ({ ...x, id: `t_05${i}` })));
  assert.equal(s.runs.length, MAX_RUNS);
  assert.equal(learnQuery(s), undefined, 'the oldest run\'s last row is still known');
  // a jump past a later run drops that run, and the next one after the last known is looked for
  r = 0.99;
  const jump = s.plan(8);
  assert.ok(jump.kind === 'jump');
  const gone = jump.startkey[1];
  assert.equal(s.observe(jump, rows(8, 3, 2000)), false);
  assert.equal(s.runs.includes(gone as number), false);
  assert.equal(s.needsProbe(), false, 'not the oldest run: no need to look at the head');
  assert.equal(s.learnQuery()?.learn.kind, 'next');
  // no run after the last known: not looked for again for 30 s
  learn(s, []);
  assert.equal(learnQuery(s), undefined);
  tick(30_000);
  assert.ok(learnQuery(s));
});

test('runs are jumped into by their share of the ids: numbered ids by how many, content hashes alike', () => {
  // a pool pushed over three seconds: 2,000, 6,000 and 192 numbered tokens
  const near = (a: number, b: number) => Math.abs(a - b) < 0.02;
  const spans = [idSpan('many_0000000', 'many_0001999'), idSpan('many_0002000', 'many_0007999'), idSpan('many_0008000', 'many_0008191')];
  const total = spans.reduce((a, b) => a + b);
  assert.ok(near(spans[0]! / total, 2000 / 8192) && near(spans[1]! / total, 6000 / 8192) && near(spans[2]! / total, 192 / 8192), JSON.stringify(spans));
  assert.ok(idSpan('0a31', 'fe02') > 0.9 && idSpan('10ff', 'f0aa') > 0.85, 'hashes: most of the space, whatever the count');
  assert.equal(idSpan('x', 'x'), 0);

  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
  const { s } = spread(random);
  s.observe({ kind: 'head', limit: 8 }, Array.from({ length: 8 }, (_, i) => ({ key: [-1, 1000], id: `many_000000${i}` })));
  learn(s, [{ key: [-1, 1000], id: 'many_0001999' }]);
  learn(s, [{ key: [-1, 1001], id: 'many_0002000' }]);
  learn(s, [{ key: [-1, 1001], id: 'many_0007999' }]);
  learn(s, [{ key: [-1, 1002], id: 'many_0008000' }]);
  learn(s, [{ key: [-1, 1002], id: 'many_0008191' }]);
  const counts = new Map<unknown, number>();
  for (let i = 0; i < 4000; i++) {
    const p = s.plan(8);
    assert.ok(p.kind === 'jump');
    counts.set(p.startkey[1], (counts.get(p.startkey[1]) ?? 0) + 1);
    const [lo, hi] = p.startkey[1] === 1000 ? ['many_0000000', 'many_0001999'] : p.startkey[1] === 1001 ? ['many_0002000', 'many_0007999'] : ['many_0008000', 'many_0008191'];
    assert.ok(p.startkeyDocId >= lo && p.startkeyDocId <= hi, `${p.startkeyDocId} in ${lo}..${hi}`);
  }
  assert.ok(near(counts.get(1000)! / 4000, 2000 / 8192) && near(counts.get(1001)! / 4000, 6000 / 8192) && (counts.get(1002) ?? 0) < 200, JSON.stringify([...counts]));
});

test('a priority group seen anew at the head forgets the runs of the old one', () => {
  const { s, tick } = spread();
  s.observe({ kind: 'head', limit: 8 }, rows(8, 2, 1000));
  learn(s, lastRow(2, 1000, 't_0999'));
  s.contention(true);
  learn(s, [{ key: [-2, 1001], id: 't_1000' }]);
  assert.deepEqual(s.runs, [1000, 1001]);
  tick(2000);
  s.observe({ kind: 'head', limit: 8 }, rows(8, 7, 1500));
  assert.deepEqual(s.runs, [1500]);
  assert.deepEqual(learnQuery(s), { descending: true, startkey: [-7, 1500], endkey: [-7, 1500], limit: 1, include_docs: false });
});

test('a read at the head is made again regularly, so a new higher priority is seen', () => {
  const { s, tick } = spread();
  s.observe({ kind: 'head', limit: 8 }, rows(8));
  learn(s, lastRow(0, 1000, 't_9000'));
  assert.equal(s.plan(8).kind, 'jump');
  assert.equal(s.needsProbe(), false);
  tick(2000);
  assert.equal(s.needsProbe(), true);
});

test('the group\'s last row is read again every 30 s', () => {
  const { s, tick } = spread();
  s.observe({ kind: 'head', limit: 8 }, rows(8));
  learn(s, lastRow(0, 1000, 't_9000'));
  learn(s, []);
  tick(29_000);
  s.observe({ kind: 'head', limit: 8 }, rows(8));
  assert.equal(learnQuery(s), undefined);
  tick(1_000);
  assert.equal(s.learnQuery()?.learn.kind, 'last');
});

test('a spread that is turned off always reads at the head', () => {
  const s = new ClaimSpread({ enabled: false, headEveryMs: 2000, random: Math.random, now: Date.now });
  s.observe({ kind: 'head', limit: 8 }, rows(8));
  s.contention(true);
  assert.equal(s.crowded, true, 'contention is still known (fair shares, smaller windows)');
  assert.equal(s.needsProbe(), false);
  assert.equal(learnQuery(s), undefined);
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
