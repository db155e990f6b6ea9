import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel, logLines, runWorker, testServer } from '@picas/testkit';
import { getToken, monitorCounts, poolDatabase, pushTokens, summaryOf, tempDir, worker } from './helpers.js';

const db = await poolDatabase(fileLabel(import.meta.url));
const { couch } = db;

test('with no options the worker drains the pool once: results, logs, views, summary', async () => {
  await pushTokens(couch, [
    ['ok_1', 'echo "hello $PICAS_TOKEN_ID"; echo "to stderr" >&2'],
    ['ok_2', 'pwd; echo "$PICAS_TOKEN_DIR"; test -w "$PICAS_TOKEN_DIR"; env | grep -c "^PICAS_PASSWORD=" >&2; true'],
    ['bad_1', 'echo failing; exit 3'],
  ]);
  const workdir = tempDir();
  const r = await worker(db, ['--workdir', workdir]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^picas-worker \S+: done 2, failed 1, requeued 0, lost 0, wall \d+\.\ds$/);
  const ok = await getToken(couch, 'ok_1', { attachments: true });
  assert.equal(ok.exit_code, 0);
  assert.ok(ok.done > 0 && ok.lock > 0);
  assert.equal(ok.lease_until, 0);
  assert.equal(ok.attempts, 1);
  assert.ok(typeof ok.run_seconds === 'number');
  assert.equal(Buffer.from(ok._attachments!['logs_ok_1.out']!.data!, 'base64').toString(), 'hello ok_1\n');
  assert.equal(Buffer.from(ok._attachments!['logs_ok_1.err']!.data!, 'base64').toString(), 'to stderr\n');
  assert.equal(ok._attachments!['logs_ok_1.out']!.content_type, 'text/plain');
  const ok2 = await getToken(couch, 'ok_2', { attachments: true });
  const [cwd, tokenDir] = Buffer.from(ok2._attachments!['logs_ok_2.out']!.data!, 'base64').toString().trim().split('\n');
  assert.equal(cwd, realpathSync(workdir), 'the token ran in --workdir');
  assert.ok(tokenDir && tokenDir !== cwd, `a scratch directory of its own: ${tokenDir}`);
  assert.ok(!existsSync(tokenDir), 'the token\'s scratch directory is cleaned');
  assert.deepEqual(readdirSync(workdir), [], 'nothing left under --workdir');
  assert.equal(Buffer.from(ok2._attachments!['logs_ok_2.err']!.data!, 'base64').toString(), '0\n', 'the command does not get the password');
  const bad = await getToken(couch, 'bad_1');
  assert.equal(bad.exit_code, 3);
  assert.equal(bad.error!.at(-1)!.message, 'exit code 3');
  assert.deepEqual(await monitorCounts(couch), { todo: 0, locked: 0, done: 2, error: 1 });
  const summary = summaryOf(r.stderr);
  assert.equal(summary.done, 2);
  assert.equal(summary.failed, 1);
  assert.ok(summary.peak_rss_mb > 0);
  const lines = logLines(r.stderr);
  assert.ok(lines.some((l) => l.token === 'bad_1' && l.worker && l.msg === 'failed'), 'child loggers carry worker and token');
  const server = await testServer();
  if (server.password) assert.ok(!r.stderr.includes(server.password) && !r.stdout.includes(server.password), 'the password is never logged');
});

test('an empty pool exits 0 at once; --isolate with --keep-workdir keeps the directory; --command gets the input as JSON', async () => {
  const empty = await worker(db, []);
  assert.equal(empty.exitCode, 0, empty.stderr);
  assert.match(empty.stdout, /done 0, failed 0, requeued 0, lost 0/);

  await pushTokens(couch, [['json_1', { x: 1, name: 'a b' }]]);
  const workdir = tempDir();
  // the scratch root is under $TMPDIR; --keep-workdir is the old name of --keep-token-dirs
  const r = await worker(db, ['--isolate', '--keep-workdir', '--command', 'echo "$PICAS_TOKEN_ID:$PICAS_TOKEN_INPUT" > seen.txt'], { env: { TMPDIR: workdir } });
  assert.equal(r.exitCode, 0, r.stderr);
  const dirs = readdirSync(join(workdir)).flatMap((d) => readdirSync(join(workdir, d)).map((e) => join(workdir, d, e)));
  const seen = dirs.find((d) => existsSync(join(d, 'seen.txt')));
  assert.ok(seen, `kept working directory with seen.txt among ${dirs.join(', ')}`);
  assert.equal(readFileSync(join(seen, 'seen.txt'), 'utf8'), 'json_1:{"x":1,"name":"a b"}\n');
  const t = await getToken(couch, 'json_1');
  assert.equal(t.exit_code, 0);
});

test('a token whose input is not a command fails with a clear reason when no --command is given', async () => {
  await pushTokens(couch, [['obj_1', { not: 'a command' }]]);
  const r = await worker(db, []);
  assert.equal(r.exitCode, 0, r.stderr);
  const t = await getToken(couch, 'obj_1');
  assert.equal(t.exit_code, 127);
  assert.match(t.error!.at(-1)!.message!, /not a shell command/);
});

test('--max-scrub puts a failed token back to todo until its scrub_count reaches N', async () => {
  await pushTokens(couch, [['flaky_1', 'echo try; exit 1']]);
  const r = await worker(db, ['--max-scrub', '2']);
  assert.equal(r.exitCode, 0, r.stderr);
  const t = await getToken(couch, 'flaky_1');
  assert.equal(t.exit_code, 1);
  assert.equal(t.scrub_count, 2);
  assert.equal(t.attempts, 3);
  assert.equal(t.error!.length, 3);
  assert.match(r.stdout, /done 0, failed 1, requeued 2/);
});

test('--max-tokens stops after N claims', async () => {
  await pushTokens(couch, [['m_1', 'true'], ['m_2', 'true'], ['m_3', 'true']]);
  const r = await worker(db, ['--max-tokens', '2']);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 2,/);
  assert.equal((await monitorCounts(couch)).todo, 1);
  const rest = await worker(db, []);
  assert.match(rest.stdout, /done 1,/);
});

test('inside Slurm the claim records the PiCaS job id and the raw Slurm ids', async () => {
  await pushTokens(couch, [['slurm_1', 'true']]);
  const bin = tempDir();
  // squeue is not installed here: a stand-in that says the job has no end time
  writeFileSync(join(bin, 'squeue'), '#!/bin/sh\necho N/A\n', { mode: 0o755 });
  const r = await worker(db, [], { env: { SLURM_JOB_ID: '1043', SLURM_ARRAY_JOB_ID: '1040', SLURM_ARRAY_TASK_ID: '3', PATH: `${bin}:${process.env.PATH}` } });
  assert.equal(r.exitCode, 0, r.stderr);
  const t = await getToken(couch, 'slurm_1');
  assert.equal(t.slurm_job_id, '1040_3');
  assert.equal(t.slurm_job_id_raw, '1043');
  assert.equal(t.slurm_array_job_id, '1040');
  assert.equal(t.slurm_array_task_id, '3');
});

test('--help documents every option with its env twin and default', async () => {
  const r = await runWorker(['--help']);
  assert.equal(r.exitCode, 0);
  for (const flag of ['--lease', '--token-timeout', '--max-tokens', '--max-time', '--time-budget', '--slots', '--endless', '--max-scrub', '--on-signal', '--reclaim-expired', '--max-log-bytes', '--claim-quorum', '--prefetch']) {
    assert.ok(r.stdout.includes(flag), `--help lists ${flag}`);
  }
  assert.match(r.stdout, /--lease[\s\S]*?\[env\s+PICAS_LEASE\]\s+\[default: 5m\]/);
  assert.match(r.stdout, /--claim-quorum[\s\S]*?UNSAFE/);
});

test('bad configuration: every problem at once, exit 1; settings come from .env too', async () => {
  const r = await worker(db, ['--lease', 'soon', '--slots', '0', '--on-signal', 'maybe'], { env: { PICAS_MAX_SCRUB: 'x' } });
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /invalid configuration \(4 problems\)/);
  assert.match(r.stderr, /--lease \(from --lease\): invalid duration 'soon'/);
  assert.match(r.stderr, /--slots \(from --slots\): must be at least 1/);
  assert.match(r.stderr, /--on-signal .*'maybe' is not one of requeue, fail/);
  assert.match(r.stderr, /--max-scrub \(from env PICAS_MAX_SCRUB\)/);

  const unknown = await worker(db, ['--leese', '5m']);
  assert.equal(unknown.exitCode, 1);
  assert.match(unknown.stderr, /Unknown argument: leese/);

  const dir = tempDir();
  writeFileSync(join(dir, '.env'), 'PICAS_SLOTS=nope\n');
  const fromDotenv = await worker(db, [], { cwd: dir });
  assert.equal(fromDotenv.exitCode, 1);
  assert.match(fromDotenv.stderr, /--slots \(from .*\.env \(PICAS_SLOTS\)\): 'nope' is not a whole number/);
});

test('a wrong password exits 3 with a clear message; an unreachable server exits 2 after --retry-for', async () => {
  const server = await testServer();
  if (server.username) {
    const r = await worker(db, [], { env: { PICAS_PASSWORD: 'definitely-wrong' } });
    assert.equal(r.exitCode, 3, r.stderr);
    assert.match(r.stderr, /authentication failed for user admin/);
    assert.ok(!r.stderr.includes('definitely-wrong'));
  }
  if (server.username) {
    // credentials inside the URL are used, and never shown
    const url = new URL(server.url);
    url.username = server.username;
    url.password = 'wrong-in-url';
    const r = await worker(db, [], { env: { PICAS_URL: url.toString(), PICAS_USERNAME: '', PICAS_PASSWORD: '' } });
    assert.equal(r.exitCode, 3, r.stderr);
    assert.ok(!r.stderr.includes('wrong-in-url') && !r.stdout.includes('wrong-in-url'));
  }
  const down = await worker(db, ['--retry-for', '1s'], { env: { PICAS_URL: 'http://127.0.0.1:9' } });
  assert.equal(down.exitCode, 2, down.stderr);
  assert.match(down.stderr, /cannot reach CouchDB at http:\/\/127\.0\.0\.1:9/);
});

test('--slots N runs N tokens at once (they meet at a barrier only all of them can pass)', async () => {
  const dir = tempDir();
  const barrier = (id: string) => `touch '${dir}/${id}'; for i in $(seq 300); do [ $(ls '${dir}' | wc -l) -ge 3 ] && exit 0; sleep 0.1; done; exit 9`;
  await pushTokens(couch, [['slot_a', barrier('a')], ['slot_b', barrier('b')], ['slot_c', barrier('c')]]);
  const r = await worker(db, ['--slots', '3']);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 3, failed 0/);
});
