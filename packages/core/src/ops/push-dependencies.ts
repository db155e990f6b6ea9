/**
 * The dependency part of `picas push` (docs/dag.md), around the plain `_bulk_docs` write (push-tokens):
 *  1. prepareDependencies (reads only): the whole graph is checked (self-dependency, unknown id, also
 *     against the database, cycle) and each token gets its first state and `has_dependents`. A push
 *     without any `depends_on` makes no request here.
 *  2. the tokens are written;
 *  3. finishDependencies: tokens already in the database that are now depended on get `has_dependents`,
 *     then the new waiting tokens whose dependencies are all done by now are released (a parent may have
 *     finished while the push ran, before its completion could know about them).
 */
import type { Couch } from '../couch/connection.js';
import { checkDependencyGraph, outsideDependencies, withDependencyStates } from '../dependency-graph.js';
import { dependenciesOf, tokenState, type TokenDoc } from '../token.js';
import { dependencyNodes } from './dependencies.js';
import { readToken, writable } from './read-token.js';
import { emptySettleReport, mergeSettleReports, settleWaiting, type SettleReport } from './release-dependents.js';

export interface DependencyPlan {
  docs: TokenDoc[];
  /** database tokens to mark with `has_dependents` */
  markExisting: string[];
  /** pushed tokens that start waiting */
  waiting: string[];
  blocked: string[];
}

export async function prepareDependencies(couch: Couch, docs: TokenDoc[], options: { signal?: AbortSignal } = {}): Promise<DependencyPlan> {
  if (!docs.some((d) => dependenciesOf(d).length > 0)) return { docs, markExisting: [], waiting: [], blocked: [] };
  const outside = outsideDependencies(docs);
  const existing = outside.length > 0 ? await dependencyNodes(couch.http, outside, options.signal) : new Map();
  checkDependencyGraph(docs, existing);
  const planned = withDependencyStates(docs, existing);
  return {
    ...planned,
    waiting: planned.docs.filter((d) => tokenState(d) === 'waiting').map((d) => d._id),
    blocked: planned.docs.filter((d) => tokenState(d) === 'blocked').map((d) => d._id),
  };
}

export async function finishDependencies(couch: Couch, plan: DependencyPlan, options: { signal?: AbortSignal } = {}): Promise<SettleReport> {
  const { http } = couch;
  for (const id of plan.markExisting) {
    for (let attempt = 0; attempt < 10; attempt++) {
      const doc = await readToken(http, id, { signal: options.signal });
      if (!doc || doc.has_dependents) break;
      const res = await http.request({ method: 'PUT', path: http.docPath(id), body: { ...writable(doc), has_dependents: true }, signal: options.signal });
      if (res.status === 201 || res.status === 202) break;
      if (res.status !== 409) throw http.errorFor(res, `marking token ${id} as depended on`);
    }
  }
  const report: SettleReport = emptySettleReport();
  for (let i = 0; i < plan.waiting.length; i += 500) {
    const keys = plan.waiting.slice(i, i + 500);
    const body = await http.expectOk<{ rows: Array<{ doc?: TokenDoc | null }> }>(
      { method: 'POST', path: http.dbPath('/_all_docs'), query: { include_docs: true }, body: { keys }, signal: options.signal },
      'reading the pushed tokens',
    );
    const docs = body.rows.flatMap((r) => (r.doc ? [r.doc] : []));
    mergeSettleReports(report, await settleWaiting(http, docs, { actor: 'picas push', signal: options.signal }));
  }
  return report;
}
