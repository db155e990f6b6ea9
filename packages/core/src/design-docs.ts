/**
 * The design documents. `_design/Monitor` is PiCaS' own, character for character, so that Python PiCaS
 * and picas can share a database. Our extra views live in `_design/picas`, never inside Monitor.
 */
import type { DesignDoc } from './design-doc.js';
import { DEPS_DESIGN } from './design-docs-deps.js';
import { DASHBOARD_DESIGN } from './dashboard-design.js';
import { SHAPE_JS } from './resources.js';

/**
 * PiCaS' view code template (picasclient examples/create_views.py), as CouchDB stores it: couchdb-python's
 * ViewDefinition strips the template's leading newline (`dedent(code.lstrip('\\n'))`) before saving.
 */
export function picasViewCode(condition: string): string {
  return `function(doc) {
   if(doc.type == "token") {
    if(${condition}) {
      emit(doc._id, doc._id);
    }
  }
}
`;
}

export const PICAS_CONDITIONS = {
  todo: 'doc.lock == 0 && doc.done == 0',
  locked: 'doc.lock > 0 && doc.done == 0',
  done: 'doc.lock > 0 && doc.done > 0 && parseInt(doc.exit_code) == 0',
  error: 'doc.lock > 0 && doc.done > 0 && parseInt(doc.exit_code) != 0',
} as const;

const overviewMap = `function(doc) {
   if(doc.type == "token") {
       if (${PICAS_CONDITIONS.todo}){
          emit('todo', 1);
       }
       if(${PICAS_CONDITIONS.locked}) {
          emit('locked', 1);
       }
       if(${PICAS_CONDITIONS.done}) {
          emit('done', 1);
       }
       if(${PICAS_CONDITIONS.error}) {
          emit('error', 1);
       }
   }
}
`;

const overviewReduce = `function (key, values, rereduce) {
   return sum(values);
}
`;

export const MONITOR_DESIGN: DesignDoc = {
  _id: '_design/Monitor',
  language: 'javascript',
  views: {
    todo: { map: picasViewCode(PICAS_CONDITIONS.todo) },
    locked: { map: picasViewCode(PICAS_CONDITIONS.locked) },
    done: { map: picasViewCode(PICAS_CONDITIONS.done) },
    error: { map: picasViewCode(PICAS_CONDITIONS.error) },
    overview_total: { map: overviewMap, reduce: overviewReduce },
  },
};

/**
 * A token's state, as JavaScript run inside a view (couchjs, QuickJS, the embedded server): the one place a
 * view derives a state, mirroring `tokenState` in token.ts (a unit test checks they agree). A new state is
 * one more line here and there; the `state_counts` view then counts it with no other change.
 */
export const TOKEN_STATE_JS = `function tokenState(doc) {
    if (doc.lock == 0 && doc.done == 0) return "todo";
    if (doc.lock > 0 && doc.done == 0) return "locked";
    if (doc.lock > 0 && doc.done > 0 && parseInt(doc.exit_code) == 0) return "done";
    if (doc.lock > 0 && doc.done > 0 && parseInt(doc.exit_code) != 0) return "error";
    return "other";
  }`;

/**
 * The claim view, alone in a design doc of its own: CouchDB updates a design doc's index as one unit, and
 * every update run (each claim's view read, with many pilots) recompiles that design doc's map functions in
 * couchjs and feeds every changed token through all of them. With only this view there, a pilot's reads
 * index one small function; the other views catch up in larger, cheaper runs when they are read (leases,
 * status, repair). Measured on CouchDB 3.5 (bench, docs/performance.md): about 1 ms of server CPU per token revision less.
 * - todo_by_priority: claimable tokens of the default shape (one core: no `resources`, resources.ts), key
 *   [-priority, created] so the highest priority, then the oldest, come first. Tokens carrying conflicts
 *   are left out: they are not claimable until repaired. The value is the token itself, so a claim reads
 *   its candidates without `include_docs` (on CouchDB, `include_docs` costs about a millisecond of server
 *   CPU per row, and its rows skipped by `skip` are fetched too).
 * - todo_by_shape: the other claimable tokens (those that need more than one core, a GPU, or memory), key
 *   [cpus, gpus, mem, -priority, created], value the token, reduce `_count`: `group_level=3` lists the
 *   shapes waiting and how many of each, and a pilot reads only the shapes that fit what it has free. A
 *   pool of one-core tokens emits nothing here: its index stays empty (docs/resources.md).
 */
export const CLAIM_DESIGN: DesignDoc = {
  _id: '_design/picas_claim',
  language: 'javascript',
  views: {
    todo_by_priority: {
      map: `function (doc) {
  if (doc.type == "token" && doc.lock == 0 && doc.done == 0 && !doc._conflicts && !tokenShape(doc)) {
    emit([-(Number(doc.priority) || 0), Number(doc.created) || 0], doc);
  }
  ${SHAPE_JS}
}`,
    },
    todo_by_shape: {
      map: `function (doc) {
  if (doc.type == "token" && doc.lock == 0 && doc.done == 0 && !doc._conflicts) {
    var shape = tokenShape(doc);
    if (shape) emit(shape.concat([-(Number(doc.priority) || 0), Number(doc.created) || 0]), doc);
  }
  ${SHAPE_JS}
}`,
      reduce: '_count',
    },
  },
};

/**
 * Our other views, read now and then (they build together, once per read):
 * - locked_by_lease: locked tokens by lease expiry (epoch seconds), for reclaiming expired leases.
 * - conflicts: tokens with conflicting revisions (reduce _count), for `picas status` and `picas repair`.
 * - state_counts: one row per token keyed by its state (TOKEN_STATE_JS), reduce `_count` (built into
 *   CouchDB, no JavaScript reduce): `picas status` counts from it with `group=true`. PiCaS' own
 *   Monitor/overview_total (five JS views and a JS reduce) takes several times longer to build.
 */
export const PICAS_DESIGN: DesignDoc = {
  _id: '_design/picas',
  language: 'javascript',
  views: {
    locked_by_lease: {
      map: `function (doc) {
  if (doc.type == "token" && doc.lock > 0 && doc.done == 0 && doc.lease_until > 0) {
    emit(doc.lease_until, null);
  }
}`,
    },
    conflicts: {
      map: `function (doc) {
  if (doc.type == "token" && doc._conflicts) {
    emit(doc._id, doc._conflicts.length);
  }
}`,
      reduce: '_count',
    },
    state_counts: {
      map: `function (doc) {
  if (doc.type == "token") {
    emit(tokenState(doc), null);
  }
  ${TOKEN_STATE_JS}
}`,
      reduce: '_count',
    },
  },
};

// our dependency views (design-docs-deps.ts) and picas dashboard's (dashboard-design.ts)
export const DESIGN_DOCS: readonly DesignDoc[] = [MONITOR_DESIGN, CLAIM_DESIGN, PICAS_DESIGN, DEPS_DESIGN, DASHBOARD_DESIGN];

/** True when the stored design doc already has exactly these views (so `picas init` changes nothing). */
export function sameViews(stored: { views?: Record<string, { map?: string; reduce?: string }>; language?: string } | undefined, wanted: DesignDoc): boolean {
  if (!stored?.views) return false;
  if ((stored.language ?? 'javascript') !== wanted.language) return false;
  const storedNames = Object.keys(stored.views).sort();
  const wantedNames = Object.keys(wanted.views).sort();
  if (storedNames.join('\0') !== wantedNames.join('\0')) return false;
  return wantedNames.every((name) => stored.views![name]!.map === wanted.views[name]!.map && (stored.views![name]!.reduce ?? undefined) === (wanted.views[name]!.reduce ?? undefined));
}
