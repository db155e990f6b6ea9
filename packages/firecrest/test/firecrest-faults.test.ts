// `picas firecrest status` (the real CLI) through the stand-in's faults, with three real pilots waiting in
// bash jobs: one job-list call per status, however many pilots; a job missing from the list answer is
// looked up alone before it is declared gone; a 401 renews the access token once (twice in a row fails
// clearly, exit 3); a 429 is waited out as Retry-After says; a job FirecREST no longer knows is NOT_FOUND.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLAIM_DESIGN, MONITOR_DESIGN, PICAS_DESIGN, newToken } from '@picas/core';
import { fileLabel, freshDatabase, runCli, scratchDir, startFirecrestStandin, STANDIN_TOKEN_PATH, waitFor, workerBin, type FirecrestStandin } from '@picas/testkit';

const workerCommand = `${process.execPath} ${workerBin}`;

/** The API requests (not the token endpoint) the stand-in saw since `since`. */
function apiRequests(standin: FirecrestStandin, since: number) {
  return standin.requests.slice(since).filter((r) => r.path !== STANDIN_TOKEN_PATH);
}

const isList = (r: { method: string; path: string }) => r.method === 'GET' && /\/compute\/[^/]+\/jobs$/.test(r.path);
const isLookup = (r: { method: string; path: string }) => r.method === 'GET' && /\/compute\/[^/]+\/jobs\/[^/]+$/.test(r.path);

test('firecrest status: one job-list call per status, a job left out looked up alone, 401 renewed once, 429 waited out', { timeout: 180_000 }, async () => {
  const db = await freshDatabase(fileLabel(import.meta.url));
  const http = db.couch.http;
  for (const design of [MONITOR_DESIGN, CLAIM_DESIGN, PICAS_DESIGN]) await http.expectOk({ method: 'PUT', path: http.docPath(design._id), body: design });
  const gate = join(scratchDir('picas-firecrest-faults-'), 'go');
  const docs = [0, 1, 2].map((i) => newToken(`held_${i}`, `until [ -e '${gate}' ]; do sleep 0.2; done`));
  await http.expectOk({ method: 'POST', path: http.dbPath('/_bulk_docs'), body: { docs } });
  const standin = await startFirecrestStandin({ runner: 'bash', killWaitMs: 2_000 });
  const cwd = scratchDir('picas-firecrest-faults-cwd-');
  const env = { ...db.env, ...standin.env() };
  const status = async () => {
    const since = standin.requests.length;
    const started = Date.now();
    const r = await runCli(['firecrest', 'status', '--json'], { env, cwd });
    return { r, requests: apiRequests(standin, since), ms: Date.now() - started, report: r.exitCode === 0 ? JSON.parse(String(r.stdout)) : undefined };
  };
  try {
    const submit = await runCli(['firecrest', 'submit', '-n', '3', '--time', '00:10:00', '--workdir', join(standin.root, 'pilots'), '--worker-command', workerCommand, '--lease', '30s'], { env, cwd });
    assert.equal(submit.exitCode, 0, `submit failed:\n${submit.stderr}`);
    const jobIds = String(submit.stdout).trim().split('\n');
    assert.equal(jobIds.length, 3);
    await waitFor(async () => (await status()).report?.pilots.every((p: { state: string }) => p.state === 'RUNNING'), { what: 'the three pilots to run', timeoutMs: 60_000, intervalMs: 500 });

    // one job-list call for three pilots, no lookups
    const plain = await status();
    assert.equal(plain.requests.filter(isList).length, 1, JSON.stringify(plain.requests));
    assert.equal(plain.requests.filter(isLookup).length, 0, JSON.stringify(plain.requests));

    // a job missing from the list answer is looked up alone, and is still running
    standin.leaveOutOfList(jobIds[1]!);
    const missing = await status();
    assert.deepEqual(missing.requests.filter(isLookup).map((r) => r.path.split('/').at(-1)), [jobIds[1]]);
    assert.equal(missing.requests.filter(isList).length, 1);
    assert.deepEqual(missing.report.pilots.map((p: { state: string }) => p.state), ['RUNNING', 'RUNNING', 'RUNNING']);

    // a 401 on the list: the access token is renewed once and the list asked again
    const tokens = standin.tokensIssued;
    standin.injectFault({ status: 401, method: 'GET', pathIncludes: '/jobs' });
    const renewed = await status();
    assert.equal(renewed.r.exitCode, 0, String(renewed.r.stderr));
    assert.deepEqual(renewed.requests.filter(isList).map((r) => r.status), [401, 200]);
    assert.equal(renewed.requests.find((r) => r.status === 401)?.message, 'Access token has expired');
    // (each CLI run fetches its own first token: one more for the renewal)
    assert.equal(standin.tokensIssued, tokens + 2);

    // 429 twice with Retry-After 1 s: waited out, then answered
    standin.injectFault({ status: 429, retryAfter: '1', count: 2, method: 'GET', pathIncludes: '/jobs' });
    const limited = await status();
    assert.equal(limited.r.exitCode, 0, String(limited.r.stderr));
    assert.deepEqual(limited.requests.filter(isList).map((r) => r.status), [429, 429, 200]);
    assert.ok(limited.ms >= 2000, `two Retry-After waits of 1 s (took ${limited.ms} ms)`);
    assert.match(String(limited.r.stderr), /429 rate limited; trying again in 1\.0 s/);

    // 429 with Retry-After as an HTTP date
    standin.injectFault({ status: 429, retryAfter: new Date(Date.now() + 2000).toUTCString(), method: 'GET', pathIncludes: '/jobs' });
    const dated = await status();
    assert.equal(dated.r.exitCode, 0, String(dated.r.stderr));
    assert.deepEqual(dated.requests.filter(isList).map((r) => r.status), [429, 200]);

    // 401 again after the renewal: a clear auth failure, exit 3, no secret in it
    standin.injectFault({ status: 401, count: 2, method: 'GET', pathIncludes: '/jobs' });
    const refused = await status();
    assert.equal(refused.r.exitCode, 3, String(refused.r.stderr));
    assert.match(String(refused.r.stderr), /FirecREST refused listing jobs on system 'cluster'.*401.*Access token has expired/);
    assert.ok(!String(refused.r.stderr).includes(standin.clientSecret));

    // a job FirecREST no longer knows (left out of the list, 404 alone): NOT_FOUND, remembered as finished
    standin.leaveOutOfList(jobIds[2]!);
    // (every lookup of it answers 404: a job submitted less than 20 s ago is asked again, as not visible yet)
    standin.injectFault({ status: 404, count: 1000, method: 'GET', pathIncludes: `/jobs/${jobIds[2]}` });
    const gone = await status();
    assert.equal(gone.r.exitCode, 0, String(gone.r.stderr));
    const states = (report: { pilots: Array<{ jobId: string; state: string }> }) => report.pilots.map((p) => [p.jobId, p.state]);
    assert.deepEqual(states(gone.report), [[jobIds[0], 'RUNNING'], [jobIds[1], 'RUNNING'], [jobIds[2], 'NOT_FOUND']]);
    const lookups = gone.requests.filter(isLookup);
    assert.ok(lookups.length >= 1 && lookups.every((r) => r.path.endsWith(`/${jobIds[2]}`) && r.status === 404), JSON.stringify(lookups));
    standin.clearFaults();
    // remembered as finished: not asked about again
    const after = await status();
    assert.deepEqual(states(after.report), [[jobIds[0], 'RUNNING'], [jobIds[1], 'RUNNING']]);
    assert.equal(after.requests.filter(isLookup).length, 0);
  } finally {
    writeFileSync(gate, '');
    await standin.close();
  }
});
