// A user's script, type-checked (never run) by test/types.test.ts: it uses every export of the library the
// way its documentation shows, and the @ts-expect-error lines prove the types reject what they must.
import { connect, PicasError, runPilot, UsageError, type ConnectOptions, type Pool, type PoolStatus, type PilotSummary, type PushCounts, type PushOptions, type TokenInput, type WorkContext } from 'picas';

interface Job {
  n: number;
}

async function* jobs(): AsyncGenerator<TokenInput> {
  yield 'echo a shell token';
  yield { input: { n: 1 } satisfies Job, priority: 2, expected_seconds: 30, resources: { cpus: 2, mem: '4G' }, depends_on: ['other'], note: 'any field' };
}

export async function main(): Promise<number> {
  const options: ConnectOptions = { url: 'http://127.0.0.1:5984', db: 'picas', env: process.env };
  const pool: Pool = connect(options);
  const pushOptions: PushOptions = { prefix: 'run1', batchSize: 500, after: ['setup'], resources: { cpus: 1 }, onProgress: (n: number) => void n };
  const pushed: PushCounts = await pool.push(jobs(), pushOptions);
  const fromArray: PushCounts = await pool.push([{ input: 'echo hi' }, 'echo there']);
  const status: PoolStatus = await pool.status();
  const running: number | null = status.running;
  const controller = new AbortController();
  const summary: PilotSummary = await runPilot({
    pool,
    slots: 2,
    cpus: 'auto',
    lease: '10m',
    tokenTimeout: 3600,
    signal: controller.signal,
    work: async (token, ctx: WorkContext) => {
      const job = token.input as Job;
      ctx.log('working on', token._id, ctx.resources.cores, ctx.resources.gpus, ctx.tokenDir, ctx.workerId);
      if (ctx.signal.aborted) throw new Error('stopped');
      return { square: job.n * job.n };
    },
  });
  const other: PilotSummary = await runPilot({ connection: { db: 'other' }, work: () => undefined, onSignal: 'fail', prefetch: 1 });
  await pool.close();
  try {
    connect({ url: 'not a url' });
  } catch (err) {
    if (err instanceof UsageError) return err.problems.length;
    if (err instanceof PicasError) return err.exitCode;
  }
  // @ts-expect-error a token needs an input
  await pool.push([{ priority: 1 }]);
  // @ts-expect-error priority is a number
  await pool.push([{ input: 'x', priority: 'high' }]);
  // @ts-expect-error work is required
  await runPilot({ pool });
  // @ts-expect-error onSignal is requeue or fail
  await runPilot({ pool, work: () => 1, onSignal: 'ignore' });
  // @ts-expect-error the status counts are numbers
  const wrong: string = status.done;
  return pushed.created + fromArray.created + (running ?? 0) + summary.done + other.failed + wrong.length;
}
