/**
 * The dependency graph of a push, checked whole before anything is written (docs/dag.md): a self-dependency,
 * an unknown id (neither in this push nor in the database) or a cycle is one line naming the tokens, and
 * nothing is pushed. Then each new token gets its first state: todo (no dependencies, or all of them already
 * done), waiting (lock = -1), or blocked (a dependency in the database already failed); and every token
 * that others depend on gets `has_dependents`, so that its completion releases them without any scan.
 * Pure: the database's part comes in as `existing`.
 */
import { UsageError } from './errors.js';
import { blocked, dependenciesOf, WAITING_LOCK, type TokenDoc } from './token.js';

export interface ExistingNode {
  state: string;
  blockedBy?: string;
}

/** The ids that new tokens depend on and that are not part of this push (to look up in the database). */
export function outsideDependencies(docs: readonly TokenDoc[]): string[] {
  const own = new Set(docs.map((d) => d._id));
  const out = new Set<string>();
  for (const doc of docs) for (const dep of dependenciesOf(doc)) if (!own.has(dep)) out.add(dep);
  return [...out];
}

function list(ids: readonly string[], max = 5): string {
  const shown = ids.slice(0, max).join(', ');
  return ids.length > max ? `${shown}, ... (${ids.length} in all)` : shown;
}

/**
 * Throws a one-line UsageError for a self-dependency, an unknown id or a cycle. `existing` maps the ids found
 * in the database (only those outside the push need to be there).
 */
export function checkDependencyGraph(docs: readonly TokenDoc[], existing: ReadonlyMap<string, ExistingNode>): void {
  const byId = new Map(docs.map((d) => [d._id, d]));
  const selfDependent = docs.filter((d) => dependenciesOf(d).includes(d._id)).map((d) => d._id);
  if (selfDependent.length > 0) throw new UsageError(`token ${list(selfDependent)} depends on itself; nothing was pushed`);
  const unknown: string[] = [];
  for (const doc of docs) {
    for (const dep of dependenciesOf(doc)) {
      if (!byId.has(dep) && (!existing.has(dep) || existing.get(dep)!.state === 'missing')) unknown.push(`${dep} (needed by ${doc._id})`);
    }
  }
  if (unknown.length > 0) throw new UsageError(`unknown token id${unknown.length === 1 ? '' : 's'} in depends_on: ${list(unknown)}; nothing was pushed`);
  const cycle = findCycle(docs);
  if (cycle) throw new UsageError(`dependency cycle: ${cycle.join(' -> ')}; nothing was pushed`);
}

/** One cycle among the pushed tokens, as ids from a token back to itself, or undefined. */
export function findCycle(docs: readonly TokenDoc[]): string[] | undefined {
  const byId = new Map(docs.map((d) => [d._id, d]));
  const color = new Map<string, 1 | 2>(); // 1: on the current path, 2: finished
  for (const start of docs) {
    if (color.has(start._id)) continue;
    // iterative depth-first search; `path` is the current chain of ids
    const path: string[] = [];
    const stack: Array<{ id: string; deps: string[]; next: number }> = [];
    const enter = (id: string) => {
      color.set(id, 1);
      path.push(id);
      stack.push({ id, deps: dependenciesOf(byId.get(id)!).filter((d) => byId.has(d)), next: 0 });
    };
    enter(start._id);
    while (stack.length > 0) {
      const top = stack.at(-1)!;
      if (top.next >= top.deps.length) {
        color.set(top.id, 2);
        stack.pop();
        path.pop();
        continue;
      }
      const dep = top.deps[top.next++]!;
      const c = color.get(dep);
      if (c === 1) return [...path.slice(path.indexOf(dep)), dep];
      if (c === undefined) enter(dep);
    }
  }
  return undefined;
}

/**
 * The pushed tokens with their first state and `has_dependents`, and the database tokens that need
 * `has_dependents` set (they are depended on now and were not before).
 */
export function withDependencyStates(
  docs: readonly TokenDoc[],
  existing: ReadonlyMap<string, ExistingNode>,
  nowMs = Date.now(),
): { docs: TokenDoc[]; markExisting: string[] } {
  const depended = new Set<string>();
  for (const doc of docs) for (const dep of dependenciesOf(doc)) depended.add(dep);
  const own = new Set(docs.map((d) => d._id));
  const out = docs.map((doc) => {
    let next: TokenDoc = depended.has(doc._id) ? { ...doc, has_dependents: true } : doc;
    const deps = dependenciesOf(doc);
    if (deps.length === 0) return next;
    const outside = deps.filter((d) => !own.has(d));
    const failed = outside.find((d) => ['error', 'other', 'blocked'].includes(existing.get(d)?.state ?? ''));
    if (failed) {
      const node = existing.get(failed)!;
      const root = node.state === 'blocked' ? (node.blockedBy ?? failed) : failed;
      return blocked({ ...next, lock: WAITING_LOCK }, root, node.state === 'blocked' ? `dependency ${failed} is blocked by ${root}` : `dependency ${failed} failed`, nowMs, 'picas push');
    }
    const allDone = outside.length === deps.length && outside.every((d) => existing.get(d)?.state === 'done');
    if (!allDone) next = { ...next, lock: WAITING_LOCK, done: 0 };
    return next;
  });
  const markExisting = [...depended].filter((id) => !own.has(id) && existing.get(id)?.state !== 'done');
  return { docs: out, markExisting };
}
