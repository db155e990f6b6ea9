/**
 * Locked tokens split into running and claimed ahead (held by a pilot, not started yet: prefetched, or
 * waiting for a slot), from the live pilots' records (pilot.ts: `running` and `claimed_ahead`, renewed with
 * their leases). Tokens of pilots whose records lack these fields (older pilots, Python PiCaS, no records)
 * are in neither number: they are shown as locked.
 */
import type { Couch } from '../couch/connection.js';
import type { CouchHttp } from '../couch/http.js';
import { listPilots } from './list-pilots.js';
import type { TokenCounts } from './status.js';

export interface LockedSplit {
  running: number;
  claimedAhead: number;
}

/** The split of `locked` tokens, or undefined when no live pilot reports it. */
export async function lockedSplit(couch: Couch | { http: CouchHttp }, locked: number, options: { signal?: AbortSignal } = {}): Promise<LockedSplit | undefined> {
  const pilots = await listPilots(couch, { states: ['running'], signal: options.signal });
  let reported = false;
  let running = 0;
  let claimedAhead = 0;
  for (const p of pilots) {
    if (typeof p.running !== 'number') continue;
    reported = true;
    running += p.running;
    claimedAhead += typeof p.claimed_ahead === 'number' ? p.claimed_ahead : 0;
  }
  if (!reported) return undefined;
  // the records are as of their last renewal: never more than the tokens locked now
  running = Math.min(running, locked);
  return { running, claimedAhead: Math.min(claimedAhead, locked - running) };
}

/** The counts `picas status` shows: locked split into running and claimed ahead (null: not reported). */
export type SplitTokenCounts = TokenCounts & { running: number | null; claimed_ahead: number | null };

/** The counts with locked split; a database without pilot records, or one whose records we may not read, shows locked only. */
export async function withLockedSplit(couch: Couch, counts: TokenCounts, signal?: AbortSignal): Promise<SplitTokenCounts> {
  if (counts.locked === 0) return { ...counts, running: 0, claimed_ahead: 0 };
  const split = await lockedSplit(couch, counts.locked, { signal }).catch(() => undefined);
  return { ...counts, running: split?.running ?? null, claimed_ahead: split?.claimedAhead ?? null };
}
