import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backoffDelay } from '@picas/core';
import { capSplit, captureLog, textAttachment } from '../src/log-capture.js';
import { tempDir } from './helpers.js';

test('capSplit keeps everything under the cap, else half head, half tail', () => {
  assert.deepEqual(capSplit(100, 1000), { head: 100, tail: 0, omitted: 0 });
  assert.deepEqual(capSplit(1000, 1000), { head: 1000, tail: 0, omitted: 0 });
  assert.deepEqual(capSplit(1001, 1000), { head: 500, tail: 500, omitted: 1 });
  assert.deepEqual(capSplit(10_000, 1001), { head: 501, tail: 500, omitted: 8999 });
});

test('captureLog stores raw bytes (non-UTF-8 too) and marks what it left out', async () => {
  const dir = tempDir();
  const path = join(dir, 'out');
  const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x41, 0x0a]);
  writeFileSync(path, bytes);
  const small = captureLog(path, 1024);
  assert.deepEqual(small, { data: bytes, size: 6, truncated: false });
  assert.deepEqual(Buffer.from(textAttachment(small.data).data!, 'base64'), bytes);
  assert.equal(textAttachment(small.data).content_type, 'text/plain');

  writeFileSync(path, Buffer.concat([Buffer.alloc(3000, 'h'), Buffer.alloc(4000, 'm'), Buffer.alloc(3000, 't')]));
  const capped = captureLog(path, 2000);
  assert.equal(capped.size, 10_000);
  assert.ok(capped.truncated);
  const text = capped.data.toString('latin1');
  assert.equal(text, `${'h'.repeat(1000)}\n[picas: 8000 bytes omitted (--max-log-bytes)]\n${'t'.repeat(1000)}`);

  assert.deepEqual(captureLog(join(dir, 'missing'), 100), { data: Buffer.alloc(0), size: 0, truncated: false });
});

test('backoff delays grow exponentially, are jittered within [half, full], and are capped', () => {
  assert.equal(backoffDelay(0, 100, 10_000, () => 0), 50);
  assert.equal(backoffDelay(0, 100, 10_000, () => 1), 100);
  assert.equal(backoffDelay(3, 100, 10_000, () => 1), 800);
  assert.equal(backoffDelay(30, 100, 10_000, () => 1), 10_000);
  assert.equal(backoffDelay(30, 100, 10_000, () => 0), 5000);
  for (let i = 0; i < 50; i++) {
    const d = backoffDelay(4, 100, 10_000);
    assert.ok(d >= 800 && d <= 1600, String(d));
  }
});
