/** `pool.status()`: the counts `picas status` shows, typed. */
import type { Couch } from '@picas/core';
import { withLockedSplit } from '@picas/core/ops/locked-split';
import { tokenStatus } from '@picas/core/ops/status';

export interface PoolStatus {
  todo: number;
  /** claimed by a pilot (running, or claimed ahead) */
  locked: number;
  /** of the locked ones: running now, and claimed ahead (from the live pilots' records; null when none reports it) */
  running: number | null;
  claimedAhead: number | null;
  done: number;
  error: number;
  /** tokens waiting for others, and blocked ones (a dependency failed; docs/dag.md) */
  waiting: number;
  blocked: number;
  total: number;
  /** tokens with conflicting revisions; null when the database has no `_design/picas` (run `picas init`) */
  conflicts: number | null;
  /** todo tokens per shape (`8 cpu + 1 gpu`), only when some need more than one core */
  todoByShape?: Array<{ shape: string; todo: number }>;
}

/** @internal */
export async function poolStatus(couch: Couch, options: { signal?: AbortSignal } = {}): Promise<PoolStatus> {
  const c = await withLockedSplit(couch, await tokenStatus(couch, options), options.signal);
  return {
    todo: c.todo,
    locked: c.locked,
    running: c.running,
    claimedAhead: c.claimed_ahead,
    done: c.done,
    error: c.error,
    waiting: c.waiting,
    blocked: c.blocked,
    total: c.total,
    conflicts: c.conflicts,
    ...(c.todo_by_shape ? { todoByShape: c.todo_by_shape.map((s) => ({ shape: s.shape, todo: s.todo })) } : {}),
  };
}
