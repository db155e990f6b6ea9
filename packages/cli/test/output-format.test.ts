import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderBar } from '../src/progress-bar.js';
import { excerpt, formatTable } from '../src/table.js';

test('the progress bar fills with the finished fraction', () => {
  assert.equal(renderBar(0, 10, 10), '[..........]   0%');
  assert.equal(renderBar(5, 10, 10), '[#####.....]  50%');
  assert.equal(renderBar(10, 10, 10), '[##########] 100%');
  assert.equal(renderBar(0, 0, 4), '[####] 100%', 'an empty pool counts as finished');
});

test('tables pad columns; excerpts are one short line', () => {
  assert.equal(formatTable([['ID', 'N'], ['long_id', '7']], { alignRight: [1] }), 'ID       N\nlong_id  7');
  assert.equal(excerpt('echo a\n  echo b'), 'echo a echo b');
  assert.equal(excerpt('x'.repeat(100), 10), `${'x'.repeat(9)}…`);
  assert.equal(excerpt({ cmd: 'run' }), '{"cmd":"run"}');
});
