import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureStreak } from '../src/couch/retry.js';

test('a failure streak backs off, waits no longer than its limit, expires at it (then backs off in full), and a success ends it', () => {
  let now = 1_000;
  const streak = new FailureStreak({ baseMs: 500, maxMs: 15_000, limitMs: 10_000, now: () => now, random: () => 1 });
  assert.deepEqual(streak.fail(), { failures: 1, delayMs: 500, failingMs: 0, expired: false });
  now += 500;
  assert.deepEqual(streak.fail(), { failures: 2, delayMs: 1000, failingMs: 500, expired: false });
  now += 1000;
  assert.deepEqual(streak.fail(), { failures: 3, delayMs: 2000, failingMs: 1500, expired: false });
  now += 7_000;
  // the backoff (4 s) would go past the limit: the wait ends at it
  assert.deepEqual(streak.fail(), { failures: 4, delayMs: 1500, failingMs: 8500, expired: false });
  now += 1500;
  // past the limit, for a caller that keeps trying (commands still run): the full backoff, not a busy loop
  assert.deepEqual(streak.fail(), { failures: 5, delayMs: 8000, failingMs: 10_000, expired: true });
  now += 8000;
  assert.deepEqual(streak.fail(), { failures: 6, delayMs: 15_000, failingMs: 18_000, expired: true });
  streak.succeed();
  now += 60_000;
  assert.deepEqual(streak.fail(), { failures: 1, delayMs: 500, failingMs: 0, expired: false }, 'a new streak starts from the first wait');
});

test('a streak started before its first attempt counts that attempt\'s time', () => {
  let now = 1_000;
  const streak = new FailureStreak({ baseMs: 500, maxMs: 15_000, limitMs: 10_000, startedAt: now, now: () => now, random: () => 1 });
  now += 9_800; // a first attempt that took 9.8 s to fail
  assert.deepEqual(streak.fail(), { failures: 1, delayMs: 200, failingMs: 9_800, expired: false });
  now += 200;
  assert.deepEqual(streak.fail(), { failures: 2, delayMs: 1000, failingMs: 10_000, expired: true });
});
