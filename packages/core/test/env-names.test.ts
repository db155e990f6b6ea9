import { test } from 'node:test';
import assert from 'node:assert/strict';
import { durationText, editDistance, nearestName, unknownPicasNames } from '@picas/core';

const KNOWN = ['PICAS_URL', 'PICAS_DB', 'PICAS_DATABASE', 'PICAS_USERNAME', 'PICAS_PASSWORD', 'PICAS_SLOTS', 'PICAS_LEASE'];

test('edit distance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('PICAS_PASSWORD', 'PICAS_PASSWORD'), 0);
  assert.equal(editDistance('PICAS_PASWORD', 'PICAS_PASSWORD'), 1);
  assert.equal(editDistance('PICAS_SLTOS', 'PICAS_SLOTS'), 1);
  assert.equal(editDistance('', 'abc'), 3);
});

test('the nearest known name, only when it is close enough to be a typo', () => {
  assert.equal(nearestName('PICAS_PASWORD', KNOWN), 'PICAS_PASSWORD');
  assert.equal(nearestName('PICAS_USER_NAME', KNOWN), 'PICAS_USERNAME');
  assert.equal(nearestName('PICAS_SOMETHING_ELSE_ENTIRELY', KNOWN), undefined);
});

test('unknown PICAS_* names from env and .env, each once; other prefixes and PICAS_TEST_* are left alone', () => {
  const found = unknownPicasNames(
    {
      env: { PICAS_PASWORD: 'x', PICAS_URL: 'http://a', PATH: '/bin', PICAS_TEST_COUCHDB_15994: '1' },
      dotenv: { PICAS_PASWORD: 'y', PICAS_SLTOS: '2', OTHER: '1' },
      dotenvName: '/w/.env',
    },
    KNOWN,
  );
  assert.deepEqual(found, [
    { name: 'PICAS_PASWORD', where: 'env', suggestion: 'PICAS_PASSWORD' },
    { name: 'PICAS_SLTOS', where: '/w/.env', suggestion: 'PICAS_SLOTS' },
  ]);
});

test('durations are shown as users write them', () => {
  assert.deepEqual([0, 1500, 5000, 10_000, 90_000, 300_000, 5_400_000, 90_000_000].map(durationText), ['0s', '1500ms', '5s', '10s', '1m30s', '5m', '1h30m', '1d1h']);
});
