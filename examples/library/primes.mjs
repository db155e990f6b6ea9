#!/usr/bin/env node
// picas as a library: push 20 tokens, each a range of numbers, and run a pilot in this process whose work is
// a JavaScript function that counts the primes in its token's range. The counts are stored on the tokens
// (their `output`), the log lines in their log attachments, as `picas-worker` stores a command's output.
//
//   picas init && node primes.mjs          (the pool is the one `picas` uses: PICAS_URL, .env, conf.yml)
import { connect, runPilot } from 'picas';

const RANGES = 20;
const SIZE = 50_000;

/** The tokens, made as they are needed (an async generator works as well as an array). */
async function* ranges() {
  for (let i = 0; i < RANGES; i++) yield { input: { from: i * SIZE, to: (i + 1) * SIZE } };
}

function isPrime(n) {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** The work: what it returns is the token's result; what it throws marks the token error. */
async function countPrimes(token, ctx) {
  const { from, to } = token.input;
  let primes = 0;
  for (let n = from; n < to; n++) {
    if (n % 10_000 === 0) {
      if (ctx.signal.aborted) throw new Error('stopped');
      await new Promise((resolve) => setImmediate(resolve)); // let the pilot renew its leases
    }
    if (isPrime(n)) primes++;
  }
  ctx.log(`${primes} primes in [${from}, ${to}) on core(s) ${ctx.resources.cores.join(',')}`);
  return { from, to, primes };
}

const pool = connect();
const stop = new AbortController();
process.once('SIGINT', () => stop.abort(new Error('interrupted')));
try {
  const pushed = await pool.push(ranges());
  console.log(`pushed ${pushed.created} tokens, ${pushed.alreadyPresent} already present`);

  let total = 0;
  const summary = await runPilot({
    pool,
    slots: 2,
    signal: stop.signal,
    work: async (token, ctx) => {
      const result = await countPrimes(token, ctx);
      total += result.primes;
      return result;
    },
  });
  console.log(`pilot ${summary.workerId}: done ${summary.done}, failed ${summary.failed}, requeued ${summary.requeued}`);
  console.log(`primes found by this pilot: ${total}`);

  const status = await pool.status();
  console.log(`pool: todo ${status.todo}, locked ${status.locked}, done ${status.done}, error ${status.error}`);
} finally {
  await pool.close();
}
