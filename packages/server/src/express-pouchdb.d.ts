declare module 'express-pouchdb' {
  import type { RequestListener } from 'node:http';
  interface ExpressPouchdbApp extends RequestListener {
    couchConfig?: unknown;
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
