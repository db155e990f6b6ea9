/**
 * How the embedded server runs view map and reduce functions.
 *
 * PouchDB's own Node build evaluates a design document's map function in a brand-new `vm` context for
 * every document it indexes (it even inlines the document as JSON into the source it compiles). That costs
 * about a millisecond per document per view, and on a token pool every claim and every completion is a
 * change to index: it was the largest single cost of the server under a busy pool.
 *
 * This module does what CouchDB's `couchjs` does instead: each function source is compiled once, in a
 * long-lived sandbox context of its own (so one design document's functions cannot change the globals
 * another's see). The sandbox keeps what PouchDB's gives a map function (`emit`, `log`, `sum`, `isArray`,
 * `toJSON`, strict mode), and a function still sees a copy of the document made inside its sandbox, so it
 * cannot change what the indexer stores. It is installed as PouchDB's `query`/`viewCleanup`
 * plugin on the same abstract map/reduce code and the same index storage (`mrviews`), so existing view
 * indexes stay valid.
 */
import vm from 'node:vm';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import createAbstractMapReduce from 'pouchdb-abstract-mapreduce';

type Emit = (key: unknown, value?: unknown) => void;
type Compiled = (...args: unknown[]) => unknown;

/** Globals a view function sees, defined inside the sandbox (as in PouchDB's own sandbox). */
const SANDBOX_PRELUDE = `
"use strict";
var log = function () {};
var isArray = Array.isArray;
var toJSON = JSON.parse;
var __parse__ = JSON.parse;
function createBuiltInError(name) { return { builtInError: true, name: name }; }
function sum(values) {
  var result = 0;
  for (var i = 0, len = values.length; i < len; i++) {
    var num = values[i];
    if (typeof num !== 'number') {
      if (Array.isArray(num)) {
        result = typeof result === 'number' ? [result] : result;
        for (var j = 0, jLen = num.length; j < jLen; j++) {
          var jNum = num[j];
          if (typeof jNum !== 'number') throw createBuiltInError('_sum');
          else if (typeof result[j] === 'undefined') result.push(jNum);
          else result[j] += jNum;
        }
      } else {
        throw createBuiltInError('_sum');
      }
    } else if (typeof result === 'number') {
      result += num;
    } else {
      result[0] += num;
    }
  }
  return result;
}
`;

const MAX_COMPILED = 500;

/** One sandbox: its context, the realm's JSON.parse (documents handed in are its own objects) and `sum`. */
interface Sandbox {
  context: vm.Context;
  parse: (text: string) => unknown;
  sum: (values: unknown[]) => unknown;
}

function newSandbox(): Sandbox {
  const context = vm.createContext(Object.create(null));
  vm.runInContext(SANDBOX_PRELUDE, context);
  return {
    context,
    parse: vm.runInContext('__parse__', context) as (text: string) => unknown,
    sum: vm.runInContext('sum', context) as (values: unknown[]) => unknown,
  };
}

interface CompiledFunction {
  sandbox: Sandbox;
  /** binds a fresh `emit` and returns the view function */
  make: (emit: Emit | undefined) => Compiled;
}

export class ViewFunctions {
  private readonly compiled = new Map<string, CompiledFunction>();
  /** for the built-in reduces */
  private readonly builtIns = newSandbox();
  /** `_sum`/`_stats` on the sandbox's `sum`: a bad value comes back as a thrown builtInError object */
  private readonly sum = (values: unknown[]): unknown => {
    try {
      return this.builtIns.sum(values);
    } catch (err) {
      throw this.builtInFailure(err) ?? err;
    }
  };

  /** A function source compiled once, in its own sandbox. */
  private factory(source: string): CompiledFunction {
    let fn = this.compiled.get(source);
    if (!fn) {
      const sandbox = newSandbox();
      const code = `(function (emit) { "use strict"; return (${source.replace(/;\s*$/, '')}); })`;
      fn = { sandbox, make: vm.runInContext(code, sandbox.context, { filename: 'view-function.js' }) as (emit: Emit | undefined) => Compiled };
      if (this.compiled.size >= MAX_COMPILED) this.compiled.clear();
      this.compiled.set(source, fn);
    }
    return fn;
  }

  /** PouchDB's `mapper(mapFun, emit)`: a function of one document. */
  mapper(mapFun: unknown, emit: Emit): (doc: unknown) => unknown {
    // temp views may pass a real function taking (doc, emit)
    if (typeof mapFun === 'function' && mapFun.length === 2) {
      const fn = mapFun as (doc: unknown, emit: Emit) => unknown;
      return (doc) => fn(doc, emit);
    }
    const { sandbox, make } = this.factory(String(mapFun));
    const fn = make(emit);
    return (doc) => this.settle(fn(copyInto(sandbox, doc)));
  }

  /** PouchDB's `reducer(reduceFun)`: built-ins natively, anything else in the sandbox. */
  reducer(reduceFun: unknown): (keys: unknown, values: unknown, rereduce?: boolean) => unknown {
    const source = String(reduceFun);
    const builtIn = builtInReducer(source, this.sum);
    if (builtIn) return builtIn;
    const { sandbox, make } = this.factory(source);
    const fn = make(undefined);
    return (keys, values, rereduce) => this.settle(fn(copyInto(sandbox, keys), copyInto(sandbox, values), rereduce));
  }

  /** `sum()` inside the sandbox signals a bad input with a plain object; turn it into PouchDB's error. */
  private settle(result: unknown): unknown {
    const failure = this.builtInFailure(result);
    if (failure) throw failure;
    return result;
  }

  private builtInFailure(value: unknown): Error | undefined {
    if (value && typeof value === 'object' && (value as { builtInError?: boolean }).builtInError) return builtInError((value as { name: string }).name);
    return undefined;
  }
}

/** A copy of a value made inside the sandbox, so the function can neither see nor change the original. */
function copyInto(sandbox: Sandbox, value: unknown): unknown {
  return value === undefined ? undefined : sandbox.parse(JSON.stringify(value));
}

function builtInError(name: string): Error {
  const err = new Error(`builtin ${name} function requires map values to be numbers or number arrays`);
  Object.assign(err, { status: 500, name: 'invalid_value', error: true });
  return err;
}

/** CouchDB's built-in reduces as PouchDB implements them (`_sum`, `_count`, `_stats`), on the sandbox's `sum`. */
function builtInReducer(source: string, sum: (values: unknown[]) => unknown): ((keys: unknown, values: unknown) => unknown) | undefined {
  if (/^_sum/.test(source)) return (_keys, values) => sum(values as unknown[]);
  if (/^_count/.test(source)) return (_keys, values) => (values as unknown[]).length;
  if (/^_stats/.test(source)) {
    return (_keys, values) => {
      const v = values as number[];
      let sumsqr = 0;
      for (const n of v) sumsqr += n * n;
      return { sum: sum(v), min: Math.min(...v), max: Math.max(...v), count: v.length, sumsqr };
    };
  }
  if (/^_/.test(source)) throw new Error(`${source} is not a supported reduce function.`);
  return undefined;
}

function ddocValidator(ddoc: { _id: string; views?: Record<string, { map?: unknown }> }, viewName: string): void {
  const fun = ddoc.views?.[viewName];
  if (typeof fun?.map !== 'string') {
    const err = new Error(`ddoc ${ddoc._id} has no string view named ${viewName}, instead found object of type: ${typeof fun?.map}`);
    Object.assign(err, { status: 404, name: 'not_found', error: true });
    throw err;
  }
}

/** The PouchDB plugin: `query` and `viewCleanup` with view functions compiled once, each in its own sandbox. */
export function viewFunctionsPlugin(functions = new ViewFunctions()): { query: unknown; viewCleanup: unknown } {
  const abstract = createAbstractMapReduce(
    'mrviews',
    (mapFun: unknown, emit: Emit) => functions.mapper(mapFun, emit),
    (reduceFun: unknown) => functions.reducer(reduceFun),
    ddocValidator,
  );
  return {
    query(this: unknown, ...args: unknown[]) {
      withStartkeyDocid(this);
      const cursor = docidCursorOf(args[1]);
      if (cursor) return docidCursor.run(cursor, () => abstract.query.apply(this, args));
      return abstract.query.apply(this, args);
    },
    viewCleanup(this: unknown, ...args: unknown[]) {
      return abstract.viewCleanup.apply(this, args);
    },
  };
}

/**
 * CouchDB's `startkey_docid`, which PouchDB's map/reduce ignores: with it, a view read starts at the
 * given key *and* document id, so that a client can page through rows sharing one key (a lease second, a
 * state) by position instead of with `skip`. PouchDB stores a view row under the indexable string of
 * `[key, docId]` and starts an ascending read at that of `[startkey]`; while such a query runs (an
 * AsyncLocalStorage context, which follows the query through PouchDB's task queue), the index read that
 * starts at exactly `[startkey]` is moved on to `[startkey, startkey_docid]`.
 */
interface DocidCursor {
  from: string;
  to: string;
}

const docidCursor = new AsyncLocalStorage<DocidCursor>();
// the same pouchdb-collate as the map/reduce code uses (the index's encoding)
const collate = createRequire(createRequire(import.meta.url).resolve('pouchdb-abstract-mapreduce'))('pouchdb-collate') as { toIndexableString(key: unknown): string };

function docidCursorOf(opts: unknown): DocidCursor | undefined {
  if (!opts || typeof opts !== 'object') return undefined;
  const o = opts as { startkey?: unknown; start_key?: unknown; startkey_docid?: unknown; start_key_doc_id?: unknown; descending?: unknown; key?: unknown; keys?: unknown };
  const docId = o.startkey_docid ?? o.start_key_doc_id;
  const startkey = o.startkey !== undefined ? o.startkey : o.start_key;
  if (typeof docId !== 'string' || startkey === undefined || o.key !== undefined || o.keys !== undefined) return undefined;
  if (o.descending === true || o.descending === 'true') return undefined;
  const from = collate.toIndexableString([startkey]);
  return { from, to: collate.toIndexableString([startkey, docId]) };
}

type AllDocs = (...args: unknown[]) => unknown;

/** The index read of a view database, moved on to `startkey_docid` while a query that asked for it runs. */
function wrapAllDocs(viewDb: { allDocs?: AllDocs; __startkeyDocid?: boolean } | undefined): void {
  if (!viewDb || viewDb.__startkeyDocid || typeof viewDb.allDocs !== 'function') return;
  const original = viewDb.allDocs;
  viewDb.allDocs = function (this: unknown, ...args: unknown[]) {
    const cursor = docidCursor.getStore();
    const opts = args[0] as { startkey?: unknown } | undefined;
    if (cursor && opts && typeof opts === 'object' && opts.startkey === cursor.from) args[0] = { ...opts, startkey: cursor.to };
    return original.apply(this, args);
  };
  viewDb.__startkeyDocid = true;
}

/**
 * Makes the view databases of `db` (PouchDB's "dependent databases", one per view index, whose methods are
 * set per instance) honour `startkey_docid`: see `docidCursor`. Once per database instance.
 */
function withStartkeyDocid(db: unknown): void {
  const source = db as { registerDependentDatabase?: AllDocs; __startkeyDocid?: boolean } | null;
  if (!source || typeof source !== 'object' || source.__startkeyDocid || typeof source.registerDependentDatabase !== 'function') return;
  const original = source.registerDependentDatabase;
  source.registerDependentDatabase = function (this: unknown, ...args: unknown[]) {
    const callback = typeof args.at(-1) === 'function' ? (args.pop() as (err: unknown, res?: { db?: unknown }) => void) : undefined;
    const result = original.apply(this, args) as Promise<{ db?: unknown }>;
    const wrapped = result.then((res) => {
      wrapAllDocs(res?.db as never);
      return res;
    });
    if (!callback) return wrapped;
    wrapped.then((res) => callback(null, res), (err) => callback(err));
    return undefined;
  };
  source.__startkeyDocid = true;
}
