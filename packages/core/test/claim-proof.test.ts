import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUnconfirmedClaim, parentRevision, revisionAt, type LeafDoc } from '@picas/core/claim-proof';

function leaf(rev: string, ancestors: string[], fields: Partial<LeafDoc> = {}): LeafDoc {
  const [gen, hash] = rev.split('-') as [string, string];
  return { _id: 't', _rev: rev, type: 'token', lock: 0, done: 0, hostname: '', scrub_count: 0, input: 'true', exit_code: '', _revisions: { start: Number(gen), ids: [hash, ...ancestors] }, ...fields };
}
const claim = (rev: string, ancestors: string[], from: string) => leaf(rev, ancestors, { lock: 100, lease_until: 9e9, claim_id: `${rev}:c`, claimed_from: from });

test('revision paths: the revision at a generation, and the parent', () => {
  const l = leaf('3-c', ['b', 'a']);
  assert.equal(revisionAt(l._revisions!, 3), '3-c');
  assert.equal(revisionAt(l._revisions!, 1), '1-a');
  assert.equal(revisionAt(l._revisions!, 0), undefined);
  assert.equal(revisionAt(l._revisions!, 4), undefined);
  assert.equal(parentRevision(l._revisions!), '2-b');
  assert.equal(parentRevision(leaf('1-a', [])._revisions!), undefined);
});

test('two claims written on the same revision: neither can have won at w=n', () => {
  const a = claim('2-x', ['p'], '1-p');
  const b = claim('2-y', ['p'], '1-p');
  assert.equal(isUnconfirmedClaim(a, [a, b]), true);
  assert.equal(isUnconfirmedClaim(b, [a, b]), true);
});

test('a claim alone is not unconfirmed; nor one whose sibling grew from another revision', () => {
  const a = claim('2-x', ['p'], '1-p');
  assert.equal(isUnconfirmedClaim(a, [a]), false);
  const other = leaf('3-z', ['w', 'p'], {});
  // other's branch goes through 2-w, a child of 1-p: a sibling of the claim's revision
  assert.equal(isUnconfirmedClaim(a, [a, other]), true);
  const unrelated = leaf('2-q', ['r'], {});
  assert.equal(isUnconfirmedClaim(a, [a, unrelated]), false, 'a branch from another root shares no parent');
});

test('a heartbeat on a won claim is never taken for an unconfirmed claim', () => {
  // claim 2-x on 1-p, renewed as 3-h; a reset written on 2-x at the same time made 3-r
  const beat = leaf('3-h', ['x', 'p'], { lock: 100, lease_until: 9e9, claim_id: 'c', claimed_from: '1-p' });
  const reset = leaf('3-r', ['x', 'p']);
  assert.equal(isUnconfirmedClaim(beat, [beat, reset]), false);
});

test('tokens without claimed_from (Python PiCaS, older picas) or not locked prove nothing', () => {
  const a = leaf('2-x', ['p'], { lock: 100, lease_until: 9e9 });
  const b = claim('2-y', ['p'], '1-p');
  assert.equal(isUnconfirmedClaim(a, [a, b]), false);
  const done = leaf('2-d', ['p'], { lock: 100, done: 200, exit_code: 0, claimed_from: '1-p' });
  assert.equal(isUnconfirmedClaim(done, [done, b]), false);
});
