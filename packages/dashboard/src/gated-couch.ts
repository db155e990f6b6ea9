/**
 * The dashboard's CouchDB handle for reads: the configured connection (credentials stay on the server), with
 * every view or `_all_docs` request waiting for its turn at the read gate (read-gate.ts). The ops in
 * @picas/core (status, list-pilots) read through it unchanged, so a view they add later obeys the gate too.
 */
import { CouchHttp, openCouch, type ConnectionConfig, type Couch, type CouchRequest, type CouchResponse } from '@picas/core';
import type { ReadGate } from './read-gate.js';

/** True for a request that reads an index: a view, or `_all_docs`. */
export function isViewRead(path: string): boolean {
  return /\/_view\/|\/_all_docs(\?|$)/.test(path);
}

class GatedCouchHttp extends CouchHttp {
  constructor(
    config: ConnectionConfig,
    private readonly gate: ReadGate,
  ) {
    super(config, { connections: 4 });
  }

  override async request<T = any>(req: CouchRequest): Promise<CouchResponse<T>> {
    if (isViewRead(req.path) && !(await this.gate.turn(req.signal))) {
      throw Object.assign(new Error('stopped'), { name: 'AbortError' });
    }
    return super.request<T>(req);
  }
}

export function openGatedCouch(config: ConnectionConfig, gate: ReadGate): Couch {
  const couch = openCouch(config, { connections: 4 });
  void couch.http.close();
  const http = new GatedCouchHttp(config, gate);
  couch.http = http;
  couch.close = () => http.close();
  return couch;
}
