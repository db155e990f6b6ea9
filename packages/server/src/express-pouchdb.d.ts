declare module 'express-pouchdb' {
  import type { RequestListener } from 'node:http';
  interface ExpressPouchdbApp extends RequestListener {
    couchConfig?: { registerDefault(section: string, key: string, value: string): void; get(section: string, key: string): string | undefined };
    couchLogger?: { setLevel(level: string | undefined): void };
    setPouchDB?(pouch: unknown): void;
  }
  function expressPouchdb(pouch: unknown, options?: Record<string, unknown>): ExpressPouchdbApp;
  export default expressPouchdb;
}
declare module 'pouchdb' {
  const PouchDB: any;
  export default PouchDB;
}
declare module 'pouchdb-adapter-memory' {
  const plugin: any;
  export default plugin;
}
declare module 'pouchdb-abstract-mapreduce' {
  interface AbstractMapReduce {
    query(...args: unknown[]): unknown;
    viewCleanup(...args: unknown[]): unknown;
  }
  function createAbstractMapReduce(
    localDocName: string,
    mapper: (mapFun: unknown, emit: (key: unknown, value?: unknown) => void) => (doc: unknown) => unknown,
    reducer: (reduceFun: unknown) => (keys: unknown, values: unknown, rereduce?: boolean) => unknown,
    ddocValidator: (ddoc: any, viewName: string) => void,
  ): AbstractMapReduce;
  export default createAbstractMapReduce;
}
