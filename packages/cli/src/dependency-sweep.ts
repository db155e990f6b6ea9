/** `picas repair`'s dependency part: settle waiting tokens that a pilot killed mid-release left behind (docs/dag.md). */
import type { Couch } from '@picas/core';
import { claimWriteQuorum, readReplicas } from '@picas/core/ops/replicas';
import { sweepWaiting } from '@picas/core/ops/release-dependents';
import { dependencyCounts } from '@picas/core/ops/dependencies';

export interface DependencySweep {
  released: string[];
  blocked: string[];
  waiting: number;
  /** what to print, or '' when no token waits */
  line: string;
}

export async function sweepDependencies(couch: Couch, options: { dryRun?: boolean } = {}): Promise<DependencySweep> {
  const counts = await dependencyCounts(couch.http);
  if (counts.waiting === 0) return { released: [], blocked: [], waiting: 0, line: '' };
  if (options.dryRun) return { released: [], blocked: [], waiting: counts.waiting, line: `${counts.waiting} waiting token(s): not swept (--dry-run)` };
  const w = claimWriteQuorum(await readReplicas(couch.http), 'all');
  const r = await sweepWaiting(couch.http, { w, actor: 'picas repair' });
  return { ...r, line: `waiting tokens: ${r.released.length} released, ${r.blocked.length} blocked, ${r.waiting} still waiting for their dependencies` };
}
