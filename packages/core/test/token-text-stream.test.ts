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

test('repeats are counted exactly, whatever the filter lets through: false positives keep count 1', async () => {
  const { RepeatFilter } = await import('../src/token-text-stream.js');
  // a tiny filter: nearly every hash looks seen before, and the counts must still be exact
  const hashes = Array.from({ length: 3000 }, (_, i) => (i * 7919 % 1000).toString(16).padStart(16, '0'));
  for (const filter of [new RepeatFilter(1), new RepeatFilter(1_000_000)]) {
    for (const h of hashes) filter.see(h);
    for (let round = 0; round < 2; round++) {
      filter.rewind();
      const exact = new Map<string, number>();
      for (const h of hashes) {
        const n = (exact.get(h) ?? 0) + 1;
        exact.set(h, n);
        assert.equal(filter.next(h), n);
      }
    }
  }
});

test('encoded batches are the same documents as JSON, with the file and lines they came from', async () => {
  const a = join(dir, 'enc-a.txt');
  const b = join(dir, 'enc-b.txt');
  writeFileSync(a, '# c\necho "quoted" \\ back\n\necho 1\necho 1\n');
  writeFileSync(b, 'echo 2\r\n#\necho 3');
  const now = 1_700_000_000;
  const source = await openTextTokenFiles([a, b], { now });
  const docs = [];
  for await (const batch of source.batches(2)) docs.push(...batch);
  const encoded = [];
  for await (const batch of source.encodedBatches(2)) encoded.push(batch);
  const json = encoded.flatMap((e) => e.ids.map((_, i) => e.doc(i)));
  // key order too: the text JSON.stringify gives
  assert.deepEqual(json, docs.map((d) => JSON.stringify(d)));
  assert.deepEqual(encoded.flatMap((e) => e.ids), docs.map((d) => d._id));
  assert.deepEqual(encoded.map((e) => e.ranges), [
    [{ file: a, from: 2, to: 4 }],
    [{ file: a, from: 5, to: 5 }, { file: b, from: 1, to: 1 }],
    [{ file: b, from: 3, to: 3 }],
  ]);
});
