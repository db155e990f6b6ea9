/** A claimed token and everything that keeps it: its lease keeper and the claim that fences its writes. */
import type { CouchHttp, Logger, TokenDoc } from '@picas/core';
import { LeaseKeeper } from './lease-keeper.js';

export interface HeldToken {
  doc: TokenDoc;
  claimId: string;
  keeper: LeaseKeeper;
  log: Logger;
  reclaimed: boolean;
}

/** Starts keeping the lease of a token this pilot just won. */
export function holdToken(http: CouchHttp, doc: TokenDoc, options: { reclaimed: boolean; leaseMs: number; log: Logger }): HeldToken {
  const claimId = doc.claim_id!;
  const log = options.log.child({ token: doc._id });
  const keeper = new LeaseKeeper(http, doc, { claimId, leaseMs: options.leaseMs, log });
  keeper.start();
  const { reclaimed } = options;
  log.info({ attempts: doc.attempts, scrub_count: doc.scrub_count, reclaimed }, reclaimed ? 'claimed (reclaimed an expired lease)' : 'claimed');
  return { doc, claimId, keeper, log, reclaimed };
}
