import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTokenFiles } from '../src/token-files.js';
import { openTextTokenFiles, streamableTokenFiles } from '../src/token-text-stream.js';
import { UsageError } from '../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'picas-text-stream-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a streamed .txt file gives exactly the documents readTokenFiles gives, batch by batch', async () => {
  const a = join(dir, 'a.txt');
  const b = join(dir, 'b.txt');
  // comments, blank lines, CRLF, repeated lines (numbered per file), non-ASCII, no final newline
  writeFileSync(a, '# header\r\necho 1\r\n\r\necho 2\necho 1\n  indented  \nécho ü\necho 1');
  writeFileSync(b, 'echo 1\n#x\necho 3\n');
  const now = 1_700_000_000;
  const expected = readTokenFiles([a, b, a], { now }).docs;
  const source = await openTextTokenFiles([a, b, a], { now });
  assert.equal(source.tokens, expected.length);
  assert.deepEqual(source.perFile.map((f) => f.tokens), [6, 2]);
  const batches = [];
  for await (const batch of source.batches(3)) batches.push(batch);
  assert.deepEqual(batches.map((x) => x.length), [3, 3, 2]);
  assert.deepEqual(batches.flat(), expected);
  assert.ok(streamableTokenFiles([a, 'X.TXT']));
  assert.ok(!streamableTokenFiles([a, 'x.json']));
});

test('every file is checked before any document is made: missing, empty, only comments, not UTF-8', async () => {
  const empty = join(dir, 'empty.txt');
  const comments = join(dir, 'comments.txt');
  const latin1 = join(dir, 'latin1.txt');
  writeFileSync(empty, '\n  \n');
  writeFileSync(comments, '# only\n\n# comments\n');
  writeFileSync(latin1, Buffer.concat([Buffer.from('echo ok\necho ok2\n'), Buffer.from([0x65, 0xe9, 0x0a])]));
  await assert.rejects(openTextTokenFiles([empty, comments, latin1, join(dir, 'missing.txt')]), (err: unknown) => {
    assert.ok(err instanceof UsageError);
    const problems = (err as UsageError).problems;
    assert.match(err.message, /4 problems/);
    assert.deepEqual(problems, [`${empty}: the file is empty`, `${comments}: no tokens in the file (only comments and blank lines)`, `${latin1}:3: not valid UTF-8 text (save the file as UTF-8)`, `${join(dir, 'missing.txt')}: no such file`]);
    return true;
  });
  await assert.rejects(openTextTokenFiles([comments], { prefix: '_bad' }), /--prefix: '_bad'/);
});

test('repeats are counted exactly, also for hashes that share their top 52 bits', async () => {
  const { RepeatCounter } = await import('../src/token-text-stream.js');
  const c = new RepeatCounter();
  assert.deepEqual(['0123456789abcdef', '0123456789abcdef', '0123456789abc000', '0123456789abcdef', '0123456789abc000', 'ffffffffffffffff'].map((h) => c.next(h)), [1, 2, 1, 3, 2, 1]);
});
