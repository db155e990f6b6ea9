/**
 * `pool.push()`: tokens from any iterable, sync or async (a generator of millions is fine), written the way
 * `picas push` writes them: each token checked with the same rules as a token file, the same ids (prefix +
 * content hash, so a re-push adds nothing), the same fields, dependencies checked and released
 * (docs/dag.md), through core's `_bulk_docs` batches. The tokens are taken a round at a time (batchSize x
 * the push's lanes): a round is checked whole before it is written, so a bad token stops the push before
 * its round; what earlier rounds wrote stays, and pushing the same tokens again finishes the job.
 */
import { checkResources, ExitCode, isTransient, PicasError, UsageError, type Couch } from '@picas/core';
import { finishDependencies, prepareDependencies } from '@picas/core/ops/push-dependencies';
import { DEFAULT_PUSH_BATCH, PUSH_CONCURRENCY, pushTokens, type PushResult } from '@picas/core/ops/push-tokens';
import { MAX_LISTED_PROBLEMS, parseTokenObjects, TokenDocBuilder } from '@picas/core/token-files';
import type { ResourcesInput, TokenInput } from './token.js';

/** The name tokens are given in messages: `tokens:12` is the 12th token of the push. */
const SOURCE_NAME = 'tokens';

export interface PushOptions {
  /** id prefix: ids are `<prefix>_<content hash>` (default `token`) */
  prefix?: string;
  /** a new random id for every token, even one pushed before */
  forceNew?: boolean;
  /** tokens per `_bulk_docs` request (default 2000) */
  batchSize?: number;
  /** every token pushed also waits for these ids (like `picas push --after`) */
  after?: readonly string[];
  /** what every token without `resources` of its own needs (like `picas push --cpus/--gpus/--mem`) */
  resources?: ResourcesInput;
  /** stops the push (between requests); the promise rejects with the abort reason */
  signal?: AbortSignal;
  /** called after each round with the tokens handled so far */
  onProgress?: (handled: number) => void;
}

/** A token the database refused (e.g. `forbidden`); the others were written. */
export interface PushFailure {
  id: string;
  error: string;
  reason?: string;
}

export interface PushCounts {
  /** tokens written */
  created: number;
  /** tokens with the same id already in the pool (left as they are) */
  alreadyPresent: number;
  /** tokens the database refused */
  failed: PushFailure[];
  /** tokens that wait for others, blocked ones (a dependency failed), and those released at once (docs/dag.md) */
  waiting: number;
  blocked: number;
  released: number;
}

/** @internal */
export async function pushTokenInputs(couch: Couch, tokens: Iterable<TokenInput> | AsyncIterable<TokenInput>, options: PushOptions = {}): Promise<PushCounts> {
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_PUSH_BATCH);
  const builder = new TokenDocBuilder({ prefix: options.prefix, forceNew: options.forceNew, after: options.after, resources: defaultResources(options.resources) });
  const counts: PushCounts = { created: 0, alreadyPresent: 0, failed: [], waiting: 0, blocked: 0, released: 0 };
  let round: Array<{ value: unknown; line: number }> = [];
  let handled = 0;
  const write = async () => {
    const parsed = parseTokenObjects(SOURCE_NAME, round);
    if (parsed.problems.length > 0) throw invalidTokens(parsed.problems, counts.created + counts.alreadyPresent);
    const plan = await prepareDependencies(couch, builder.add(parsed.tokens), { signal: options.signal });
    const result = await pushTokens(couch, plan.docs, { batchSize, signal: options.signal });
    counts.created += result.created;
    counts.alreadyPresent += result.alreadyPresent;
    counts.failed.push(...result.failed);
    if (result.failedBatches.length > 0) throw failedWrite(result, counts);
    if (plan.waiting.length + plan.blocked.length + plan.markExisting.length > 0) {
      // as `picas push` counts them
      const settled = await finishDependencies(couch, plan, { signal: options.signal });
      counts.waiting += settled.waiting;
      counts.blocked += plan.blocked.length + settled.blocked.length;
      counts.released += settled.released.length;
    }
    handled += round.length;
    round = [];
    options.onProgress?.(handled);
  };
  for await (const token of tokens) {
    options.signal?.throwIfAborted();
    round.push({ value: typeof token === 'string' ? { input: token } : token, line: handled + round.length + 1 });
    if (round.length >= batchSize * PUSH_CONCURRENCY) await write();
  }
  if (round.length > 0) await write();
  return counts;
}

function defaultResources(given: ResourcesInput | undefined) {
  if (given === undefined) return undefined;
  const checked = checkResources(given);
  if (checked.problems.length > 0) throw new UsageError(`resources: ${checked.problems.join('; ')}`, { problems: checked.problems.map((p) => `resources: ${p}`) });
  return checked.resources;
}

function invalidTokens(problems: readonly string[], written: number): UsageError {
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS);
  if (problems.length > listed.length) listed.push(`... and ${problems.length - listed.length} more problems`);
  const what = problems.length === 1 ? problems[0]! : `invalid tokens (${problems.length} problems)`;
  const earlier = written > 0 ? `; the ${written} tokens before them are in the pool (the same push again adds only the rest)` : '; nothing was pushed';
  return new UsageError(`${what}${earlier}`, { problems: listed });
}

/** A request that failed (after retries): the push stops, as `picas push` does. */
function failedWrite(result: PushResult, counts: PushCounts): PicasError {
  const first = result.failedBatches[0]!.error;
  // a missing database, a URL that is not CouchDB, a refused login: its own message says what to do
  if (first instanceof PicasError && !isTransient(first)) return first;
  const unsent = result.failedBatches.reduce((a, b) => a + b.tokens, 0) + result.notSent;
  const message = `${unsent} tokens may not have been written (${(first as Error)?.message ?? String(first)}); ${counts.created} were, ${counts.alreadyPresent} were present: push the same tokens again to finish`;
  return new PicasError(message, first instanceof PicasError ? first.exitCode : ExitCode.unreachable, { cause: first });
}
