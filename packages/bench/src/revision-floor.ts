/**
 * The server's floor per token: the CPU the server spends on the two revisions every token needs (todo →
 * locked, locked → done, with its two log attachments), written in the cheapest way it takes them, with nothing else around them: no
 * claim reads, no per-token requests, `_bulk_docs` of `batch` tokens, then one read of every view so that
 * the indexes (all of picas' and PiCaS' design documents) take in every revision.
 *
 * A pilot cannot do less than this per token and stay compatible with PiCaS (a claimed token must be seen
 * as locked). It puts the "server CPU per token" targets in proportion: measured in the same run as the
 * pilots, on the same server.
 */
import { DESIGN_DOCS, finished, lockedBy, newToken, type TokenDoc } from '@picas/core';

export interface RevisionFloorDeps {
  /** a CouchDB request on the bench server: path below the server root */
  call(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** creates a fresh database with every design document */
  createDb(db: string): Promise<void>;
  /** the server's CPU time so far (ms) */
  serverCpuMs(): number;
}

export interface RevisionFloor {
  tokens: number;
  batch: number;
  /** server CPU per token for both revisions and their index updates (ms) */
  msPerToken: number;
}

export async function revisionFloor(deps: RevisionFloorDeps, tokens: number, batch = 256): Promise<RevisionFloor> {
  const db = 'bench_floor';
  await deps.createDb(db);
  const bulk = async (docs: TokenDoc[]): Promise<TokenDoc[]> => {
    const r = await deps.call('POST', `/${db}/_bulk_docs`, { docs });
    if (r.status >= 300) throw new Error(`revision floor: _bulk_docs answered ${r.status}`);
    const revs = new Map<string, string>((r.body as Array<{ id: string; rev?: string; error?: string }>).map((row) => {
      if (!row.rev) throw new Error(`revision floor: ${row.id}: ${row.error}`);
      return [row.id, row.rev];
    }));
    return docs.map((d) => ({ ...d, _rev: revs.get(d._id)! }));
  };
  const readEveryView = async () => {
    for (const d of DESIGN_DOCS) {
      for (const [name, view] of Object.entries(d.views ?? {})) {
        const r = await deps.call('GET', `/${db}/${d._id}/_view/${name}?limit=1${(view as { reduce?: string }).reduce ? '&reduce=false' : ''}`);
        if (r.status !== 200) throw new Error(`revision floor: reading ${d._id}/_view/${name} answered ${r.status}`);
      }
    }
  };
  try {
    const docs: TokenDoc[] = [];
    for (let i = 0; i < tokens; i += batch) {
      docs.push(...(await bulk(Array.from({ length: Math.min(batch, tokens - i) }, (_, j) => newToken(`floor_${String(i + j).padStart(7, '0')}`, 'true')))));
    }
    await readEveryView();
    const cpuAtStart = deps.serverCpuMs();
    for (let i = 0; i < docs.length; i += batch) {
      const now = Date.now();
      const locked = await bulk(docs.slice(i, i + batch).map((d) => lockedBy(d, { workerId: 'floor', claimId: `floor:${i}`, hostname: 'bench', leaseMs: 600_000, now })));
      // with the two (empty) log attachments a pilot writes, which PiCaS' scripts expect
      const logs = (id: string) => ({ [`logs_${id}.out`]: { content_type: 'text/plain', data: '' }, [`logs_${id}.err`]: { content_type: 'text/plain', data: '' } });
      await bulk(locked.map((d) => finished(d, { exitCode: 0, started: now / 1000, finished: now / 1000, attachments: logs(d._id) })));
    }
    await readEveryView();
    return { tokens, batch, msPerToken: (deps.serverCpuMs() - cpuAtStart) / tokens };
  } finally {
    await deps.call('DELETE', `/${db}`);
  }
}
