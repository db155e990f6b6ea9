import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PICAS_DESIGN, TOKEN_STATE_JS } from '../src/design-docs.js';
import { tokenState } from '../src/token.js';
import { summarizeBuilds, taskDatabase } from '../src/ops/view-progress.js';

test("the counts view's state function agrees with tokenState on every kind of token", () => {
  const viewState = new Function(`${TOKEN_STATE_JS}; return tokenState;`)() as (doc: unknown) => string;
  const docs = [
    { lock: 0, done: 0, exit_code: '' },
    { lock: 1700000000, done: 0, exit_code: '' },
    { lock: 1700000000, done: 1700000100, exit_code: 0 },
    { lock: 1700000000, done: 1700000100, exit_code: '0' },
    { lock: 1700000000, done: 1700000100, exit_code: 3 },
    { lock: 1700000000, done: 1700000100, exit_code: '' },
    { lock: 1700000000, done: 1700000100, exit_code: '12abc' },
    { lock: -1, done: -1, exit_code: '' },
    { lock: '0', done: '0', exit_code: '' },
  ];
  for (const doc of docs) assert.equal(viewState(doc), tokenState(doc as never), JSON.stringify(doc));
  assert.match(PICAS_DESIGN.views.state_counts!.map, /emit\(tokenState\(doc\), null\)/);
  assert.equal(PICAS_DESIGN.views.state_counts!.reduce, '_count', 'a reduce built into CouchDB, no JavaScript');
});

test("index builds are read from _active_tasks, per design document, this database's shards summed", () => {
  assert.equal(taskDatabase('shards/00000000-7fffffff/tokens.1712345678'), 'tokens');
  assert.equal(taskDatabase('tokens'), 'tokens');
  const builds = summarizeBuilds(
    [
      { type: 'indexer', database: 'shards/00000000-7fffffff/tokens.1712345678', design_document: '_design/picas', changes_done: 30, total_changes: 50 },
      { type: 'indexer', database: 'shards/80000000-ffffffff/tokens.1712345678', design_document: '_design/picas', changes_done: 15, total_changes: 50 },
      { type: 'indexer', database: 'shards/80000000-ffffffff/other.1712345678', design_document: '_design/picas', changes_done: 1, total_changes: 9 },
      { type: 'replication', database: 'tokens' },
    ],
    'tokens',
  );
  assert.deepEqual(builds, [{ design: '_design/picas', changesDone: 45, totalChanges: 100, percent: 45 }]);
});
