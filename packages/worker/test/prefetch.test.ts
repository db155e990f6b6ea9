import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrefetch, prefetchCap, prefetchCores, prefetchDepth } from '../src/prefetch.js';

test('--prefetch auto: one until runtimes are known, then about two seconds of work per slot, capped', () => {
  const single = { slots: 1, bulkAllowed: true };
  assert.equal(prefetchDepth('auto', single), 1);
  assert.equal(prefetchDepth('auto', { ...single, meanRuntimeMs: 5 }), 16, 'very short tokens: the cap');
  assert.equal(prefetchDepth('auto', { ...single, meanRuntimeMs: 250 }), 8);
  assert.equal(prefetchDepth('auto', { ...single, meanRuntimeMs: 1500 }), 1, 'tokens of a second or more: one at a time');
  assert.equal(prefetchDepth('auto', { slots: 16, bulkAllowed: true, meanRuntimeMs: 5 }), 32);
  assert.equal(prefetchDepth('auto', { slots: 4, bulkAllowed: true, meanRuntimeMs: 0 }), 16);
});

test('on a cluster (no bulk proof) every claim is one token, whatever the setting', () => {
  assert.equal(prefetchDepth('auto', { slots: 8, bulkAllowed: false, meanRuntimeMs: 1 }), 1);
  assert.equal(prefetchDepth(12, { slots: 8, bulkAllowed: false, meanRuntimeMs: 1 }), 1);
  assert.equal(prefetchCap(12, 8, false), 1);
  assert.equal(prefetchCap('auto', 8, true), 16);
  assert.equal(prefetchCap(3, 8, true), 3);
  assert.equal(prefetchDepth(3, { slots: 1, bulkAllowed: true }), 3, 'a number is used as given');
});

test('larger tokens ahead: about two seconds of the pilot\'s cores (auto), the depth otherwise, one on a cluster', () => {
  // a 4-core pilot, tokens of 0.2 s: 40 cores ahead, ten 4-core tokens (one-core tokens stay capped at 16)
  assert.equal(prefetchCores('auto', 16, { cpus: 4, bulkAllowed: true, meanRuntimeMs: 200 }), 40);
  assert.equal(prefetchCores('auto', 16, { cpus: 4, bulkAllowed: true, meanRuntimeMs: 5000 }), 16, 'never fewer than the depth');
  assert.equal(prefetchCores('auto', 1, { cpus: 4, bulkAllowed: true }), 1, 'runtimes not known yet');
  assert.equal(prefetchCores(6, 6, { cpus: 4, bulkAllowed: true, meanRuntimeMs: 10 }), 6, 'a fixed --prefetch N: N cores');
  assert.equal(prefetchCores('auto', 16, { cpus: 4, bulkAllowed: false, meanRuntimeMs: 200 }), 1, 'on a cluster one token at a time');
});

test('parsePrefetch takes "auto" or a whole number >= 1', () => {
  assert.equal(parsePrefetch(undefined), 'auto');
  assert.equal(parsePrefetch('auto'), 'auto');
  assert.equal(parsePrefetch('8'), 8);
  assert.equal(parsePrefetch(4), 4);
  for (const bad of ['0', '-1', '2.5', 'lots', '']) assert.equal(parsePrefetch(bad), undefined, bad);
});
