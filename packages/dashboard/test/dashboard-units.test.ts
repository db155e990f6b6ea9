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
