/**
 * `_design/picas_deps`: the views of dependencies between tokens (docs/dag.md), kept out of
 * `_design/picas` so that the claim views stay small. Every map function returns at once for a token
 * without `depends_on` and without `has_dependents`: a pool of independent tokens costs them nothing.
 *
 * - waiting_by_dependency: waiting and blocked tokens, once per dependency; key = the dependency's id,
 *   value = 'waiting' | 'blocked'. A completing pilot looks up its token's id here (only when the token has
 *   `has_dependents`); `picas delete` checks it before deleting a depended-on token.
 * - waiting: waiting and blocked tokens; key ['waiting'] or ['blocked', id of the failed dependency];
 *   reduce _count (group_level=1 for `picas status`). `picas list --state waiting|blocked`, the sweep that
 *   releases stranded tokens, and `picas retry` (which unblocks ['blocked', id]) read it.
 * - nodes: every token in a dependency relation; key = id, value = [state, depends_on, blocked_by.id or null]. Dependency states
 *   are read here (POST keys) and `picas graph` draws it.
 */
import type { DesignDoc } from './design-doc.js';

/** The state of a token, in view code: the same conditions as tokenState() in token.ts. */
const STATE_EXPRESSION = `(doc.lock == 0 && doc.done == 0) ? "todo"
      : (doc.lock > 0 && doc.done == 0) ? "locked"
      : (doc.lock > 0 && doc.done > 0) ? (parseInt(doc.exit_code) == 0 ? "done" : "error")
      : (doc.lock == -1 && doc.done == 0) ? (doc.blocked_by ? "blocked" : "waiting")
      : "other"`;

export const DEPS_DESIGN: DesignDoc = {
  _id: '_design/picas_deps',
  language: 'javascript',
  views: {
    waiting_by_dependency: {
      map: `function (doc) {
  if (doc.type == "token" && doc.lock == -1 && doc.done == 0 && doc.depends_on && doc.depends_on.length) {
    for (var i = 0; i < doc.depends_on.length; i++) {
      emit(doc.depends_on[i], doc.blocked_by ? "blocked" : "waiting");
    }
  }
}`,
    },
    waiting: {
      map: `function (doc) {
  if (doc.type == "token" && doc.lock == -1 && doc.done == 0) {
    emit(doc.blocked_by ? ["blocked", String(doc.blocked_by.id)] : ["waiting"], null);
  }
}`,
      reduce: '_count',
    },
    nodes: {
      map: `function (doc) {
  if (doc.type == "token" && (doc.has_dependents || (doc.depends_on && doc.depends_on.length))) {
    var state = ${STATE_EXPRESSION};
    emit(doc._id, [state, doc.depends_on || [], doc.blocked_by ? String(doc.blocked_by.id) : null]);
  }
}`,
    },
  },
};
