/** The one loopback rule: localhost, ::1 (bracketed or not) and 127.0.0.0/8; nothing else. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackHost, isLoopbackUrl } from '@picas/core';

test('loopback hosts and URLs', () => {
  for (const host of ['localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '::1', '[::1]']) assert.equal(isLoopbackHost(host), true, host);
  for (const host of ['example.org', '10.0.0.1', '127.0.0.1.example.org', '0.0.0.0', '::', 'localhost.example.org']) assert.equal(isLoopbackHost(host), false, host);
  for (const url of ['http://localhost:5984', 'http://127.0.0.1:5984/', 'http://[::1]:5984', 'https://user:pw@127.0.0.2/db']) assert.equal(isLoopbackUrl(url), true, url);
  for (const url of ['https://couch.example.org', 'http://10.1.2.3:5984', 'not a url']) assert.equal(isLoopbackUrl(url), false, url);
});
