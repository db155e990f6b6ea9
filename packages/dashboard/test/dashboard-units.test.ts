/** Pure parts of the dashboard: the read gate's spacing, which requests count as view reads, the addresses, when a pilot is lost, CouchDB's reachability. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError, PILOT_LOST_MARGIN_S, pilotLostAt, pilotState, UnreachableError } from '@picas/core';
import { isLoopbackHost, publicCouchUrl, ReadGate } from '@picas/dashboard';
import { isViewRead } from '@picas/dashboard/gated-couch';
import { CouchReach, type CouchReachState } from '@picas/dashboard/couch-reach';

test('the read gate starts turns at least its interval apart, and an aborted wait takes no turn', async () => {
  const gate = new ReadGate(50);
  const starts: number[] = [];
  for (let i = 0; i < 4; i++) {
    const asked = performance.now();
    assert.equal(await gate.turn(), true);
    // when the gate let the read start (the await's continuation may run later on a busy machine)
    assert.ok(gate.lastTurnAt >= asked && gate.lastTurnAt <= performance.now());
    starts.push(gate.lastTurnAt);
  }
  for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 1]! >= 50, `turn ${i} came ${starts[i]! - starts[i - 1]!} ms after the previous one`);
  assert.equal(gate.reads, 4);
  const stop = new AbortController();
  stop.abort();
  const busy = new ReadGate(60_000);
  await busy.turn();
  assert.equal(await busy.turn(stop.signal), false);
  assert.equal(busy.reads, 1);
});

test('view and _all_docs requests go through the gate; documents, attachments and _changes do not', () => {
  assert.ok(isViewRead('/db/_design/Monitor/_view/overview_total'));
  assert.ok(isViewRead('/db/_all_docs'));
  assert.ok(!isViewRead('/db/_changes'));
  assert.ok(!isViewRead('/db/token_1/logs_token_1.err'));
  assert.ok(!isViewRead('/db/_all_docs_token'));
});

test('the browser sees the CouchDB address without credentials; loopback names', () => {
  assert.equal(publicCouchUrl('https://alice:s3cret@couch.example.org:6984/'), 'https://couch.example.org:6984');
  assert.equal(publicCouchUrl('http://127.0.0.1:5984'), 'http://127.0.0.1:5984');
  for (const h of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.1.2.3']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '10.0.0.1', 'example.org', '']) assert.ok(!isLoopbackHost(h), h);
});

test('a running pilot past its lease is lost; an ended one keeps its state', () => {
  const now = 1_000_000_000_000;
  const s = now / 1000;
  assert.equal(pilotState({ state: 'running', heartbeat: s - 10, lease_s: 60, lease_until: s + 50 }, now), 'running');
  assert.equal(pilotState({ state: 'running', heartbeat: s - 100, lease_s: 60, lease_until: s - 40 }, now), 'lost');
  assert.equal(pilotState({ state: 'running', heartbeat: s - 100, lease_s: 60, lease_until: 0 }, now), 'lost');
  assert.equal(pilotState({ state: 'finished', heartbeat: s - 1000, lease_s: 60, lease_until: s - 940 }, now), 'finished');
});

test('a running pilot that missed two renewals (plus the margin) is lost before its lease passes', () => {
  const now = 1_000_000_000_000;
  const s = now / 1000;
  // a 5-minute lease, renewed every 100 s: lost 200 s + PILOT_LOST_MARGIN_S after the last renewal
  const record = (heartbeatAgo: number) => ({ state: 'running' as const, heartbeat: s - heartbeatAgo, lease_s: 300, lease_until: s - heartbeatAgo + 300 });
  assert.equal(pilotLostAt(record(0)), s + 200 + PILOT_LOST_MARGIN_S);
  assert.equal(pilotState(record(150), now), 'running', 'one renewal missed');
  assert.equal(pilotState(record(200 + PILOT_LOST_MARGIN_S + 1), now), 'lost', 'two renewals missed, its lease still running');
  // a short lease: its end comes first
  assert.equal(pilotLostAt({ heartbeat: s, lease_s: 6, lease_until: s + 6 }), s + 6);
});

test('CouchDB reachability flips only on an outage (not on other errors) and on the first answer after it', () => {
  const seen: CouchReachState[] = [];
  const reach = new CouchReach((state) => seen.push(state), ['s3cret'], 1000);
  reach.answered(2000);
  reach.failed(new NotFoundError('no such view'), 3000);
  assert.equal(seen.length, 0, 'answers and errors that are not outages change nothing');
  reach.failed(new UnreachableError('cannot reach CouchDB at http://admin:s3cret@127.0.0.1:1 (ECONNREFUSED)'), 4000);
  reach.failed(new UnreachableError('again'), 5000);
  reach.answered(6000);
  reach.answered(7000);
  assert.equal(seen.length, 2);
  assert.deepEqual([seen[0]!.reachable, seen[0]!.since], [false, 4000]);
  assert.doesNotMatch(seen[0]!.reason!, /s3cret/);
  assert.deepEqual(seen[1], { reachable: true, since: 6000 });
});

test('the chart fits the run: a 5-minute run gets 5-second bins over its own span, with the running total', async () => {
  const { chartBins, binWidthFor } = await import('@picas/dashboard/chart-bins');
  const start = 1_800_000_000; // a minute boundary
  // one token finished every second for five minutes, every tenth one an error
  const slots = Array.from({ length: 300 }, (_, i) => ({ t: start + i, done: i % 10 === 0 ? 0 : 1, error: i % 10 === 0 ? 1 : 0 }));
  const model = chartBins(slots, start + 300);
  assert.equal(model.binSeconds, 5);
  assert.equal(model.times[0], start, 'it starts at the first finish');
  assert.ok(model.times.length >= 60 && model.times.length <= 61, `${model.times.length} bins`);
  assert.ok(model.times.at(-1)! + model.binSeconds >= start + 299, 'and covers the last');
  assert.equal(model.cumulative.at(-1), 300);
  assert.deepEqual(model.cumulative.slice(0, 3), [5, 10, 15]);
  // rates in tokens per minute whatever the bin: 5 finishes in 5 s are 60 a minute
  assert.equal(model.done[0]! + model.error[0]!, 60);
  // a long run: coarser bins, never more than 60 of them
  assert.equal(binWidthFor(7 * 24 * 3600), 3 * 3600);
  assert.equal(binWidthFor(30), 1);
  assert.equal(binWidthFor(100), 2);
  const week = chartBins([{ t: start, done: 1, error: 0 }, { t: start + 7 * 24 * 3600, done: 1, error: 0 }], start + 7 * 24 * 3600 + 60);
  assert.ok(week.times.length <= 61 && week.binSeconds === 3 * 3600, `${week.times.length} bins of ${week.binSeconds} s`);
  // a finished run keeps its own scale hours later; nothing finished: no bins
  const later = chartBins(slots, start + 6 * 3600);
  assert.ok(later.binSeconds <= 10 && later.times.length <= 61, `${later.times.length} bins of ${later.binSeconds} s`);
  assert.deepEqual(chartBins([], start).times, []);
});

test('the autoscaler panel: running and pending pilots, the last decision, the pause reason', async () => {
  const { autoscalerPanel } = await import('@picas/dashboard/autoscaler-panel');
  const { AUTOSCALER_DOC_ID, AUTOSCALER_TYPE } = await import('@picas/core');
  const panel = autoscalerPanel({
    _id: AUTOSCALER_DOC_ID,
    type: AUTOSCALER_TYPE,
    owner: 'h:1:x',
    lease_until: 200,
    heartbeat: 100,
    backend: 'local',
    settings: { max_pilots: 4 },
    cap_lowered_to: 2,
    pilots: [
      { backend: 'local', job_id: '1', state: 'running', submitted: 1 },
      { backend: 'local', job_id: '2', state: 'pending', submitted: 2 },
      { backend: 'local', job_id: '3', state: 'pending', submitted: 3 },
      { backend: 'local', job_id: '4', state: 'timeout', submitted: 0 },
    ],
    failures: { submit_in_row: 10, failed_starts_in_row: 0, last_error: 'sbatch: invalid partition' },
    paused: { reason: '10 failed submissions in a row', at: 99, resume: 'picas autoscale resume' },
    last_decision: { at: 100, line: 'todo 4 · paused', todo: 4, demand_s: 1, supply_s: 0, unschedulable: 0, submit: 0, cancel: 0 },
  });
  assert.deepEqual(
    { running: panel.running, pending: panel.pending, ended: panel.ended, max: panel.maxPilots, line: panel.decision?.line, paused: panel.paused?.reason, error: panel.lastError },
    { running: 1, pending: 2, ended: 1, max: 2, line: 'todo 4 · paused', paused: '10 failed submissions in a row', error: 'sbatch: invalid partition' },
  );
});
