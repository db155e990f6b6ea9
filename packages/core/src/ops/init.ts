/**
 * `picas init`: creates the database if it is missing, and creates or updates `_design/Monitor` (PiCaS'
 * views) and ours (`_design/picas_claim`, `_design/picas`, and the dependency and dashboard views). Idempotent: a second run writes nothing. Views a user added to a
 * design document (e.g. PiCaS' autopilot views) are kept; only ours are added or fixed.
 */
import type { Couch } from '../couch/connection.js';
import type { DesignDoc } from '../design-doc.js';
import { DESIGN_DOCS } from '../design-docs.js';
import { AuthError, ConflictError } from '../errors.js';

export interface DesignChange {
  id: string;
  action: 'created' | 'updated' | 'unchanged';
  /** our views that were missing */
  added: string[];
  /** our views whose code differed */
  fixed: string[];
  /** views that are not ours, left as they were */
  kept: string[];
  /** views of ours that moved elsewhere (RETIRED_VIEWS), removed */
  removed: string[];
}

/**
 * Views that earlier versions of picas kept in a design document and that now live elsewhere: `picas init`
 * removes them, so that they are not indexed twice. `todo_by_priority` moved to `_design/picas_claim`.
 */
const RETIRED_VIEWS: Record<string, Array<{ name: string; map: RegExp }>> = {
  '_design/picas': [{ name: 'todo_by_priority', map: /emit\(\[-\(Number\(doc\.priority\)/ }],
};

export interface InitResult {
  databaseCreated: boolean;
  designs: DesignChange[];
  /** false when nothing was written */
  changed: boolean;
}

type StoredView = { map?: string; reduce?: string };
type StoredDesign = { _id: string; _rev?: string; language?: string; views?: Record<string, StoredView>; [k: string]: unknown };

/** Same code, ignoring whitespace around it (PiCaS' own tools store the code with or without a leading newline). */
function sameCode(a: string | undefined, b: string | undefined): boolean {
  return (a ?? '').trim() === (b ?? '').trim();
}

export async function initDatabase(couch: Couch): Promise<InitResult> {
  const databaseCreated = await ensureDatabase(couch);
  const designs: DesignChange[] = [];
  for (const wanted of DESIGN_DOCS) designs.push(await ensureDesign(couch, wanted));
  return { databaseCreated, designs, changed: databaseCreated || designs.some((d) => d.action !== 'unchanged') };
}

async function ensureDatabase(couch: Couch): Promise<boolean> {
  const { http } = couch;
  const head = await http.request({ path: http.dbPath() });
  if (head.status === 200) return false;
  if (head.status !== 404) throw http.errorFor(head, `opening database '${couch.config.db}'`);
  const put = await http.request({ method: 'PUT', path: http.dbPath() });
  if (put.status === 201 || put.status === 202) return true;
  if (put.status === 412) return false; // created meanwhile by someone else
  if (put.status === 401 || put.status === 403) {
    throw new AuthError(
      `database '${couch.config.db}' does not exist, and ${who(couch)} cannot create it: a CouchDB server admin must run picas init`,
      { cause: http.errorFor(put, `creating database '${couch.config.db}'`) },
    );
  }
  throw http.errorFor(put, `creating database '${couch.config.db}' (this needs a CouchDB server admin)`);
}

async function ensureDesign(couch: Couch, wanted: DesignDoc): Promise<DesignChange> {
  const { http } = couch;
  for (let attempt = 0; attempt < 5; attempt++) {
    const res = await http.request<StoredDesign>({ path: http.docPath(wanted._id) });
    if (res.status !== 200 && res.status !== 404) throw http.errorFor(res, `reading ${wanted._id}`);
    const stored = res.status === 200 ? res.body : undefined;
    const views: Record<string, StoredView> = { ...(stored?.views ?? {}) };
    const change: DesignChange = { id: wanted._id, action: stored ? 'updated' : 'created', added: [], fixed: [], kept: [], removed: [] };
    // only a view that is still our own code is retired; a user's view of the same name is theirs
    for (const retired of RETIRED_VIEWS[wanted._id] ?? []) {
      if (views[retired.name] && retired.map.test(views[retired.name]!.map ?? '')) {
        delete views[retired.name];
        change.removed.push(retired.name);
      }
    }
    for (const [name, view] of Object.entries(wanted.views)) {
      const current = views[name];
      if (!current) change.added.push(name);
      else if (!sameCode(current.map, view.map) || !sameCode(current.reduce, view.reduce)) change.fixed.push(name);
      else continue;
      views[name] = { ...view };
    }
    change.kept = Object.keys(views).filter((name) => !(name in wanted.views));
    const languageOk = (stored?.language ?? 'javascript') === 'javascript';
    if (stored && change.added.length === 0 && change.fixed.length === 0 && change.removed.length === 0 && languageOk) return { ...change, action: 'unchanged' };
    const body: StoredDesign = { ...(stored ?? {}), _id: wanted._id, language: 'javascript', views };
    const put = await http.request({ method: 'PUT', path: http.docPath(wanted._id), body });
    if (put.status === 201 || put.status === 202) return change;
    if (put.status === 401 || put.status === 403) {
      // a pool member may use the views but not write them
      throw new AuthError(
        `database '${couch.config.db}' needs ${stored ? 'an update of' : 'its'} ${wanted._id}, and ${who(couch)} cannot write design documents: ` +
          `a database admin must run picas init (members can use the database after that)`,
        { cause: http.errorFor(put, `writing ${wanted._id}`) },
      );
    }
    if (put.status !== 409) throw http.errorFor(put, `writing ${wanted._id}`);
    // someone else changed it meanwhile: read it again and merge again
  }
  throw new ConflictError(`${wanted._id} keeps changing while picas init updates it; try again`);
}

function who(couch: Couch): string {
  return couch.config.username ? `user ${couch.config.username}` : 'an anonymous user';
}
