/** `picas delete` and dependencies (docs/dag.md): a depended-on token is deleted only with --force, and its dependents become blocked. */
import type { Couch } from '@picas/core';
import type { DeleteTarget } from '@picas/core/ops/delete-tokens';
import { dependentIds } from '@picas/core/ops/dependencies';
import { blockDependents } from '@picas/core/ops/release-dependents';

/** For each target that tokens outside the selection wait for: their ids. Only targets with `has_dependents` are looked up. */
export async function dependentsOfTargets(couch: Couch, targets: readonly DeleteTarget[]): Promise<Map<string, string[]>> {
  const parents = targets.filter((t) => t.hasDependents).map((t) => t.id);
  if (parents.length === 0) return new Map();
  const selected = new Set(targets.map((t) => t.id));
  const out = new Map<string, string[]>();
  for (const [parent, children] of await dependentIds(couch.http, parents)) {
    const outside = children.filter((c) => !selected.has(c));
    if (outside.length > 0) out.set(parent, outside);
  }
  return out;
}

export async function blockDependentsOfDeleted(couch: Couch, deleted: readonly string[]): Promise<string[]> {
  const blocked: string[] = [];
  for (const id of deleted) {
    const r = await blockDependents(couch.http, id, id, `dependency ${id} was deleted`, { actor: 'picas delete' });
    blocked.push(...r.blocked);
  }
  return blocked;
}
