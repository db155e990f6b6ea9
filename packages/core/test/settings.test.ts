import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../src/duration.js';
import { resolveSettings, type SettingSpec } from '../src/settings.js';
import { resolveConnection } from '../src/connection-config.js';
import { redactText, redactUrl } from '../src/redact.js';

test('durations take 90, 90s, 5m, 2h, 1h30m and HH:MM:SS', () => {
  assert.equal(parseDuration('90'), 90_000);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('01:00:05'), 3_605_000);
  assert.equal(parseDuration('1-00:00:00'), 86_400_000);
  assert.throws(() => parseDuration('soon'), /invalid duration 'soon'/);
});

const specs: SettingSpec[] = [
  { key: 'lease', flag: '--lease', env: ['PICAS_LEASE'], type: 'duration', default: '5m', description: '' },
  { key: 'slots', flag: '--slots', env: ['PICAS_SLOTS'], type: 'int', default: 1, min: 1, description: '' },
  { key: 'onSignal', flag: '--on-signal', env: ['PICAS_ON_SIGNAL'], type: 'enum', choices: ['requeue', 'fail'], default: 'requeue', description: '' },
];

test('layers apply in order: default < file < .env < env < flag', () => {
  const r = resolveSettings(specs, {
    file: { lease: '1m', slots: 2 },
    dotenv: { PICAS_LEASE: '2m', PICAS_SLOTS: '3' },
    env: { PICAS_LEASE: '3m' },
    flags: { lease: '4m' },
  });
  assert.deepEqual(r.errors, []);
  assert.equal(r.values.lease, 240_000);
  assert.equal(r.values.slots, 3);
  assert.equal(r.values.onSignal, 'requeue');
  assert.equal(r.sources.lease, '--lease');
  assert.equal(r.sources.slots, '.env (PICAS_SLOTS)');
});

test('every problem is reported at once, naming the setting and its source', () => {
  const r = resolveSettings(specs, { env: { PICAS_LEASE: 'soon', PICAS_SLOTS: '0' }, flags: { onSignal: 'explode' } });
  assert.equal(r.errors.length, 3);
  assert.match(r.errors[0]!, /--lease \(from env PICAS_LEASE\): invalid duration 'soon'/);
  assert.match(r.errors[1]!, /--slots \(from env PICAS_SLOTS\): must be at least 1/);
  assert.match(r.errors[2]!, /--on-signal \(from --on-signal\): 'explode' is not one of requeue, fail/);
});

test('connection config accepts PiCaS names, .env and a YAML file, and strips credentials from the URL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'picas-cfg-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '.env'), 'PICAS_USERNAME=alice\nPICAS_PASSWORD=fromdotenv\n');
  writeFileSync(join(dir, 'conf.yml'), 'host_url: http://couch.example:5984\ndatabase: mydb\n');
  const r = resolveConnection({ cwd: dir, home: dir, env: { PICAS_CONFIG: 'conf.yml' } });
  assert.deepEqual(r.errors, []);
  assert.equal(r.config!.url, 'http://couch.example:5984');
  assert.equal(r.config!.db, 'mydb');
  assert.equal(r.config!.username, 'alice');
  assert.equal(r.config!.password, 'fromdotenv');
  const r2 = resolveConnection({ cwd: dir, home: dir, env: { PICAS_HOST_URL: 'https://bob:pw@h.example/couch/', PICAS_DATABASE: 'x' } });
  assert.equal(r2.config!.url, 'https://h.example/couch');
  assert.equal(r2.config!.username, 'alice'); // .env wins over the URL's user... only when set; URL fills gaps
  const r3 = resolveConnection({ cwd: dir, home: dir, env: { PICAS_URL: 'ftp://x', PICAS_DB: 'Bad Name' } });
  assert.equal(r3.errors.length, 1);
  assert.match(r3.errors[0]!, /--url \(from env PICAS_URL\): must start with http/);
});

test('with nothing configured, the embedded server address is used and said once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'picas-cfg-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const r = resolveConnection({ cwd: dir, home: dir, env: {} });
  assert.equal(r.config!.embedded, true);
  assert.equal(r.config!.url, 'http://127.0.0.1:5984');
  assert.equal(r.notices.length, 1);
});

test('redaction removes credentials from URLs and text', () => {
  assert.equal(redactUrl('http://admin:secret@host:5984/db'), 'http://***:***@host:5984/db');
  assert.equal(redactText('failed GET http://u:p@h/x with Authorization: Basic YWRtaW46c2VjcmV0'), 'failed GET http://***:***@h/x with Authorization: Basic ***');
  assert.equal(redactText('password is hunter2', ['hunter2']), 'password is ***');
});
