/**
 * `picas autoscale --backend firecrest` through the FirecREST stand-in (real Slurm behind it when it is
 * up, else bash): a drain within the cap while the stand-in answers 429s to submits, expires the access
 * tokens (401, renewed once), and leaves a job out of one job-list answer (looked up alone, not declared gone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli, startFirecrestStandin, waitFor, workerBin } from '@picas/testkit';
import { assertDrainedOnce, autoscalePool, stateDoc } from './autoscale-pool.js';

test('firecrest: 12 tokens of 1 s drain with at most 2 pilots through 429s, 401s and a job missing from one answer', async () => {
  const pool = await autoscalePool(import.meta.url, 12, 1);
  const standin = await startFirecrestStandin();
  try {
    standin.injectFault({ status: 429, retryAfter: '1', count: 2, method: 'POST', pathIncludes: '/jobs' });
    const expiring = setInterval(() => standin.expireTokens(), 4000);
    let run;
    let missing = '';
    try {
      const controller = runCli(
        ['autoscale', '--backend', 'firecrest', '--max-pilots', '2', '--walltime', '00:00:40', '--interval', '1s', '--until-empty', '--firecrest-workdir', join(standin.root, 'pilots'), '--worker-command', `${process.execPath} ${workerBin}`, '--state-file', join(pool.dir, 'firecrest-pilots.json')],
        { env: { ...pool.db.env, ...standin.env() }, cwd: pool.dir, timeout: 300_000 },
      );
      // the first pilot's job is left out of the next job-list answer
      const first = await waitFor(() => standin.jobIds()[0], { timeoutMs: 120_000, intervalMs: 50, what: 'the first pilot job' });
      standin.leaveOutOfList(first, 1);
      missing = first;
      run = await controller;
    } finally {
      clearInterval(expiring);
    }
    assert.equal(run.exitCode, 0, run.stderr + run.stdout);
    assert.match(run.stdout.split('\n')[0]!, /^todo 12 \(12 s of work\) · pilots 0 running, 0 pending of 2 · submit 2$/);
    for (const line of run.stdout.trim().split('\n')) {
      const [, running, pending] = /pilots (\d+) running, (\d+) pending of 2/.exec(line) ?? [];
      assert.ok(Number(running) + Number(pending) <= 2, line);
    }
    await assertDrainedOnce(pool);
    const submitted = standin.jobIds();
    const state = await stateDoc(pool);
    assert.deepEqual(state.pilots.map((p) => p.job_id).sort(), [...submitted].sort(), 'every job submitted is in the state, once');
    assert.ok(state.pilots.every((p) => p.ended !== undefined && p.backend === 'firecrest'), JSON.stringify(state.pilots));
    assert.ok(standin.requests.some((r) => r.status === 429), 'the 429s were answered');
    assert.ok(standin.requests.some((r) => r.method === 'GET' && r.path.endsWith(`/jobs/${missing}`)), 'the job missing from one list answer was looked up alone');
    assert.ok(standin.tokensIssued >= 2, 'expired access tokens were renewed');
    assert.ok(!run.stderr.includes(standin.clientSecret) && !run.stdout.includes(standin.clientSecret), 'no client secret in the output');
  } finally {
    await standin.close();
  }
});
