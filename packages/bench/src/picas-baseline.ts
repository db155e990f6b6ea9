/**
 * A faithful model of Python PiCaS' claim loop, run side by side with picas as a baseline:
 * read up to 100 rows of the Monitor todo view, pick one at random, GET it, set lock and PUT it with
 * that _rev (up to 10 tries on 409), "run" it (record its id), then PUT the whole document as done.
 * It reproduces PiCaS' GET-after-view race: nothing checks lock == 0 after the GET.
 */
import type { Dispatcher } from 'undici';

export interface BaselineHttp {
  call(method: Dispatcher.HttpMethod & ('GET' | 'PUT' | 'POST' | 'DELETE'), path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

export interface BaselineResult {
  executions: Map<string, number>;
  requests: number;
  conflicts: number;
  seconds: number;
}

export async function runPicasBaseline(http: BaselineHttp, db: string, clients: number): Promise<BaselineResult> {
  const executions = new Map<string, number>();
  let requests = 0;
  let conflicts = 0;
  const call = (m: 'GET' | 'PUT', p: string, b?: unknown) => {
    requests++;
    return http.call(m, p, b);
  };
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (;;) {
        const view = await call('GET', `/${db}/_design/Monitor/_view/todo?limit=100`);
        const rows: Array<{ id: string }> = view.body?.rows ?? [];
        if (rows.length === 0) return;
        let claimed: any;
        for (let attempt = 0; attempt < 10 && !claimed; attempt++) {
          const row = rows[Math.floor(Math.random() * rows.length)]!;
          const got = await call('GET', `/${db}/${encodeURIComponent(row.id)}`);
          if (got.status !== 200) continue;
          const doc = { ...got.body, lock: Math.floor(Date.now() / 1000) || 1 };
          const put = await call('PUT', `/${db}/${encodeURIComponent(doc._id)}`, doc);
          if (put.status === 201 || put.status === 202) claimed = { ...doc, _rev: put.body.rev };
          else conflicts++;
        }
        if (!claimed) continue;
        executions.set(claimed._id, (executions.get(claimed._id) ?? 0) + 1);
        const done = { ...claimed, done: Math.floor(Date.now() / 1000) || 1, exit_code: 0 };
        const fin = await call('PUT', `/${db}/${encodeURIComponent(done._id)}`, done);
        if (fin.status === 409) conflicts++; // PiCaS only logs this: the result is lost
      }
    }),
  );
  return { executions, requests, conflicts, seconds: (performance.now() - started) / 1000 };
}
