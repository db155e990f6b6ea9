/** `picas push --dry-run`: the token count and the first tokens, from what would be pushed; nothing is written. */
import type { TokenDoc } from '@picas/core';
import type { EncodedTokenBatch } from '@picas/core/ops/push-tokens';
import { say } from './context.js';
import { excerpt, formatTable } from './table.js';

/** Tokens shown. */
const SHOWN = 10;

export async function printDryRun(tokens: readonly TokenDoc[] | { tokens: number; encodedBatches(size: number): AsyncGenerator<EncodedTokenBatch> }, summary?: string): Promise<void> {
  const total = Array.isArray(tokens) ? tokens.length : (tokens as { tokens: number }).tokens;
  const first: Array<{ id: string; input: unknown }> = [];
  if (Array.isArray(tokens)) for (const doc of tokens.slice(0, SHOWN)) first.push({ id: doc._id, input: doc.input });
  else {
    const batches = (tokens as { encodedBatches(size: number): AsyncGenerator<EncodedTokenBatch> }).encodedBatches(SHOWN);
    const batch = (await batches.next()).value as EncodedTokenBatch | undefined;
    await batches.return(undefined);
    batch?.ids.forEach((id, i) => first.push({ id, input: (JSON.parse(batch.doc(i)) as TokenDoc).input }));
  }
  say(`${summary ?? `${total.toLocaleString('en-US')} token${total === 1 ? '' : 's'}`}; dry run, nothing written`);
  say(formatTable([['ID', 'INPUT'], ...first.map((t) => [t.id, excerpt(t.input, 100)])]));
  if (total > first.length) say(`... and ${(total - first.length).toLocaleString('en-US')} more`);
}
