// The FirecREST v2 client against the stand-in: jobs, files, retries, rate limits and typed errors.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ExitCode, UsageError } from '@picas/core';
import { startFirecrestStandin, STANDIN_TOKEN_PATH, waitFor, type FirecrestStandin } from '@picas/testkit';
import {
  FirecrestClient,
  FirecrestError,
  FirecrestUnreachableError,
  isFirecrestNotFound,
  jobState,
  isFinalJobState,
  retryAfterMs,
  type FirecrestClientOptions,
  type RetryInfo,
} from '../src/index.js';

let standin: FirecrestStandin;
let client: FirecrestClient;
const retries: RetryInfo[] = [];

before(async () => {
  standin = await startFirecrestStandin({ runner: 'bash', killWaitMs: 2_000 });
  client = clientFor(standin, { onRetry: (info) => retries.push(info) });
});
after(async () => {
  await client.close();
  await standin.close();
});

function clientFor(s: FirecrestStandin, extra: Partial<FirecrestClientOptions> = {}): FirecrestClient {
  return new FirecrestClient({ url: s.url, auth: { tokenUrl: s.tokenUrl, clientId: s.clientId, clientSecret: s.clientSecret }, retryBaseMs: 20, retryMaxMs: 100, ...extra });
}

function apiRequests(s: FirecrestStandin, since: number, filter: (r: { method: string; path: string }) => boolean = () => true) {
  return s.requests.slice(since).filter((r) => r.path !== STANDIN_TOKEN_PATH && filter(r));
}

const isJobPost = (r: { method: string; path: string }) => r.method === 'POST' && r.path.endsWith('/jobs');

async function finalJob(system: string, id: string) {
  return waitFor(async () => {
    const job = await client.job(system, id);
    return isFinalJobState(job.state) ? job : undefined;
  }, { what: `job ${id} to finish` });
}

test('job states are recognised by prefix', () => {
  assert.equal(jobState('CANCELLED by 0'), 'CANCELLED');
  assert.equal(jobState('CANCELLED+'), 'CANCELLED');
  assert.equal(jobState('completed'), 'COMPLETED');
  assert.equal(jobState('COMPLETING'), 'COMPLETING');
  assert.equal(jobState('REQUEUE_HOLD'), 'REQUEUE_HOLD');
  assert.equal(jobState('NODE_FAIL'), 'NODE_FAIL');
  assert.equal(jobState('OUT_OF_MEMORY'), 'OUT_OF_MEMORY');
  assert.equal(jobState('RUNNINGX'), 'UNKNOWN');
  assert.equal(jobState(''), 'UNKNOWN');
  assert.equal(isFinalJobState('TIMEOUT'), true);
  assert.equal(isFinalJobState('PENDING'), false);
});

test('Retry-After is read as seconds or as an HTTP date', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(retryAfterMs('3', now), 3000);
  assert.equal(retryAfterMs('0', now), 0);
  assert.equal(retryAfterMs('Wed, 01 Jan 2025 00:00:05 GMT', now), 5000);
  assert.equal(retryAfterMs('Tue, 31 Dec 2024 23:59:00 GMT', now), 0);
  assert.equal(retryAfterMs('soon', now), undefined);
  assert.equal(retryAfterMs(undefined, now), undefined);
});

test('systems, submit (inline script and scriptPath), job status, jobs, metadata and cancel', async () => {
  const [system] = await client.systems();
  assert.equal(system!.name, standin.system);
  assert.equal(system!.fileSystems?.[0]?.path, standin.root);

  const ok = await client.submitJob(standin.system, { script: '#!/bin/bash\necho "hi $WHO"\n', workingDirectory: standin.root, env: { WHO: 'there' }, name: 'inline' });
  assert.match(ok, /^\d+$/);
  await client.upload(standin.system, standin.root, 'fail.sh', '#!/bin/bash\nexit 7\n');
  const failing = await client.submitJob(standin.system, { scriptPath: join(standin.root, 'fail.sh'), workingDirectory: standin.root, standardOutput: 'fail.out' });

  const done = await finalJob(standin.system, ok);
  assert.equal(done.state, 'COMPLETED');
  assert.equal(done.exitCode, 0);
  assert.equal(done.name, 'inline');
  assert.equal(done.jobId, ok);
  const failed = await finalJob(standin.system, failing);
  assert.equal(failed.state, 'FAILED');
  assert.equal(failed.exitCode, 7);
  assert.equal((await client.download(standin.system, join(standin.root, `slurm-${ok}.out`))).toString(), 'hi there\n');

  const meta = await client.jobMetadata(standin.system, ok);
  assert.equal(meta.jobId, ok);
  assert.match(meta.script ?? '', /echo "hi \$WHO"/);

  const long = await client.submitJob(standin.system, { script: '#!/bin/bash\nsleep 60\n', workingDirectory: standin.root });
  assert.equal((await client.job(standin.system, long)).state, 'RUNNING');
  await client.cancelJob(standin.system, long);
  const cancelled = await finalJob(standin.system, long);
  assert.equal(cancelled.state, 'CANCELLED');
  assert.match(cancelled.rawState, /^CANCELLED by \d+$/);

  const all = await client.jobs(standin.system);
  for (const id of [ok, failing, long]) assert.ok(all.some((j) => j.jobId === id), `job ${id} listed`);
});

test('a numeric jobId from the server is accepted (as a string)', async () => {
  const numeric = await startFirecrestStandin({ runner: 'bash', numericJobIds: true });
  const c = clientFor(numeric);
  try {
    const id = await c.submitJob(numeric.system, { script: 'true', workingDirectory: numeric.root });
    assert.equal(typeof id, 'string');
    assert.match(id, /^\d+$/);
    assert.equal((await c.job(numeric.system, Number(id))).jobId, id);
  } finally {
    await c.close();
    await numeric.close();
  }
});

test('a 404 for a job just submitted is tolerated (it is not visible yet); an unknown job is a 404 error', async () => {
  const slow = await startFirecrestStandin({ runner: 'bash', jobVisibilityDelayMs: 1_500 });
  const c = clientFor(slow);
  try {
    const id = await c.submitJob(slow.system, { script: 'sleep 1', workingDirectory: slow.root });
    const since = slow.requests.length;
    const job = await c.job(slow.system, id);
    assert.equal(job.jobId, id);
    const statuses = apiRequests(slow, since).map((r) => r.status);
    assert.ok(statuses[0] === 404 && statuses.at(-1) === 200, `404s first, then the job: ${statuses.join(',')}`);

    // the grace is counted from the submit time given (e.g. one read back from a state file)
    await assert.rejects(c.job(slow.system, id, { submittedAt: Date.now() - 60_000 }).then(() => c.job(slow.system, '99999', { submittedAt: Date.now() - 60_000 })), (err: unknown) => {
      assert.ok(isFirecrestNotFound(err));
      assert.equal((err as FirecrestError).serverMessage, 'Job not found.');
      return true;
    });
    await assert.rejects(c.job(slow.system, '424242'), (err: unknown) => isFirecrestNotFound(err));
  } finally {
    await c.close();
    await slow.close();
  }
});

test('a 429 storm is waited out as Retry-After says (seconds or HTTP date), for GETs and for a submit', async () => {
  retries.length = 0;
  standin.injectFault({ status: 429, retryAfter: '0', count: 12 });
  standin.injectFault({ status: 429, retryAfter: '1', count: 1 });
  // far enough ahead that the retries before it (13 of them, one of a second) cannot use it up on a busy machine
  standin.injectFault({ status: 429, retryAfter: new Date(Date.now() + 6_000).toUTCString(), count: 1 });
  const systems = await client.systems();
  assert.equal(systems.length, 1);
  const waits = retries.filter((r) => r.reason === '429 rate limited').map((r) => r.delayMs);
  assert.equal(waits.length, 14);
  assert.equal(waits.filter((ms) => ms === 1000).length, 1, 'Retry-After: 1 means one second');
  assert.ok(waits.at(-1)! > 0 && waits.at(-1)! <= 6_000, `an HTTP date is waited for until then (${waits.at(-1)} ms)`);

  // a 429 means the server did nothing: even a submit is sent again, and only one job is made
  const before = standin.jobIds().length;
  const since = standin.requests.length;
  standin.injectFault({ status: 429, retryAfter: '0', count: 3, method: 'POST' });
  await client.submitJob(standin.system, { script: 'true', workingDirectory: standin.root });
  assert.equal(standin.jobIds().length, before + 1);
  assert.deepEqual(apiRequests(standin, since, isJobPost).map((r) => r.status), [429, 429, 429, 201]);

  // past the limit on waiting it gives up with a clear error
  const impatient = clientFor(standin, { maxRateLimitWaitMs: 1_500 });
  try {
    standin.injectFault({ status: 429, retryAfter: '1', count: 3 });
    await assert.rejects(impatient.systems(), (err: unknown) => err instanceof FirecrestError && err.status === 429 && /kept rate-limiting listing systems/.test(err.message));
  } finally {
    standin.clearFaults();
    await impatient.close();
  }
});

test('GETs are retried on 5xx; a submit that gets a 5xx is never sent twice', async () => {
  let since = standin.requests.length;
  standin.injectFault({ status: 503, method: 'GET', count: 2 });
  standin.injectFault({ status: 502, method: 'GET', count: 1 });
  await client.systems();
  assert.deepEqual(apiRequests(standin, since).map((r) => r.status), [503, 503, 502, 200]);

  // 5xx before anything was done
  let jobs = standin.jobIds().length;
  since = standin.requests.length;
  standin.injectFault({ status: 500, method: 'POST', pathIncludes: '/jobs' });
  await assert.rejects(client.submitJob(standin.system, { script: 'true', workingDirectory: standin.root }), (err: unknown) => {
    assert.ok(err instanceof FirecrestError);
    assert.equal(err.status, 500);
    assert.equal(err.exitCode, ExitCode.external);
    assert.match(err.message, /submitting a job on system 'cluster': 500: Internal Server Error/);
    return true;
  });
  assert.equal(apiRequests(standin, since, isJobPost).length, 1);
  assert.equal(standin.jobIds().length, jobs);

  // 5xx after the job was made (e.g. a gateway lost the answer): still sent once, so one job, not two
  jobs = standin.jobIds().length;
  since = standin.requests.length;
  standin.injectFault({ status: 504, method: 'POST', pathIncludes: '/jobs', when: 'after' });
  await assert.rejects(client.submitJob(standin.system, { script: 'true', workingDirectory: standin.root }), FirecrestError);
  assert.equal(apiRequests(standin, since, isJobPost).length, 1);
  assert.equal(standin.jobIds().length, jobs + 1);
});

test('a submit that times out is not resent, and says the job may exist', async () => {
  const c = clientFor(standin, { timeoutMs: 300 });
  const since = standin.requests.length;
  const jobs = standin.jobIds().length;
  try {
    standin.injectFault({ method: 'POST', pathIncludes: '/jobs', delayMs: 1_000 });
    await assert.rejects(c.submitJob(standin.system, { script: 'true', workingDirectory: standin.root }), (err: unknown) => {
      assert.ok(err instanceof FirecrestUnreachableError);
      assert.equal(err.outcomeUnknown, true);
      assert.match(err.message, /\(timeout\): the request may have reached the server; check the job list before submitting again/);
      return true;
    });
    // the server did get it, and made exactly one job
    await waitFor(() => apiRequests(standin, since, isJobPost).length === 1, { what: 'the slow submit to be answered' });
    assert.equal(standin.jobIds().length, jobs + 1);

    // a slow GET is simply asked again
    standin.injectFault({ method: 'GET', pathIncludes: '/status/systems', delayMs: 1_000 });
    assert.equal((await c.systems()).length, 1);
  } finally {
    await c.close();
  }
});

test('an AbortSignal stops a request (and its waiting) at once', async () => {
  standin.injectFault({ status: 429, retryAfter: '30', count: 1 });
  const controller = new AbortController();
  const pending = client.systems({ signal: controller.signal });
  setTimeout(() => controller.abort(new Error('stopped by the test')), 100);
  await assert.rejects(pending, /stopped by the test/);
  standin.clearFaults();
});

test('file operations: mkdir, upload, ls, view, download; the 5 MiB upload limit; missing files', async () => {
  const dir = join(standin.root, 'inputs', 'run1');
  await client.mkdir(standin.system, dir);
  await client.mkdir(standin.system, dir); // with parents: an existing directory is fine
  await client.upload(standin.system, dir, 'data.txt', 'alpha\nbeta\n');
  await client.upload(standin.system, dir, 'bytes.bin', new Uint8Array([0, 1, 2, 255]));
  const entries = await client.ls(standin.system, dir);
  assert.deepEqual(entries.map((e) => [e.name, e.type]), [['bytes.bin', '-'], ['data.txt', '-']]);
  assert.deepEqual([...(await client.download(standin.system, join(dir, 'bytes.bin')))], [0, 1, 2, 255]);
  assert.equal(await client.view(standin.system, join(dir, 'data.txt')), 'alpha\nbeta\n');
  assert.equal(await client.view(standin.system, join(dir, 'data.txt'), { offset: 6, size: 4 }), 'beta');

  const sent = client.requests;
  await assert.rejects(client.upload(standin.system, dir, 'big.bin', Buffer.alloc(5 * 1024 * 1024 + 1)), (err: unknown) => err instanceof UsageError && /over FirecREST's 5 MiB limit/.test(err.message));
  assert.equal(client.requests, sent, 'a file over the limit is refused before sending it');

  await assert.rejects(client.download(standin.system, join(dir, 'nope.txt')), (err: unknown) => {
    assert.ok(err instanceof FirecrestError);
    assert.equal(err.status, 404);
    assert.match(err.serverMessage ?? '', /No such file or directory/);
    assert.match(err.message, /downloading .*nope.txt .*404: .*No such file or directory/);
    return true;
  });
  await assert.rejects(client.mkdir(standin.system, join(dir, 'x'), { parent: false }).then(() => client.mkdir(standin.system, join(dir, 'x'), { parent: false })), (err: unknown) => err instanceof FirecrestError && err.status === 400 && /File exists/.test(err.message));
});

test('server errors become typed errors carrying message, errorType and status', async () => {
  await assert.rejects(client.jobs('nosuchsystem'), (err: unknown) => {
    assert.ok(err instanceof FirecrestError);
    assert.equal(err.status, 404);
    assert.equal(err.serverMessage, 'System not found');
    assert.equal(err.errorType, 'error');
    assert.equal(err.request, 'GET /compute/nosuchsystem/jobs');
    assert.equal(err.exitCode, ExitCode.external);
    return true;
  });
  await assert.rejects(client.submitJob(standin.system, { script: 'true', workingDirectory: 'relative/dir' }), (err: unknown) => {
    assert.ok(err instanceof FirecrestError);
    assert.equal(err.status, 400);
    assert.equal(err.errorType, 'validation');
    assert.match(err.message, /400 validation: workingDirectory: 'relative\/dir' must be an absolute path/);
    return true;
  });
  await assert.rejects(client.ls(standin.system, '/etc'), (err: unknown) => err instanceof FirecrestError && err.status === 400 && err.errorType === 'validation');
});

test('a site root path in FIRECREST_URL is kept', async () => {
  const rooted = await startFirecrestStandin({ runner: 'bash', rootPath: '/api/v2' });
  const c = clientFor(rooted);
  try {
    assert.match(rooted.url, /\/api\/v2$/);
    assert.equal((await c.systems())[0]!.name, rooted.system);
  } finally {
    await c.close();
    await rooted.close();
  }
});
