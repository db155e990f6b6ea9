/**
 * Todo tokens per shape (resources.ts), for `picas status`: the one-core tokens, and each larger shape
 * from `todo_by_shape`'s `_count` at `group_level=3`. Empty when every todo token is one-core, or the
 * database's views predate resources.
 */
import type { CouchHttp } from '../couch/http.js';
import { DEFAULT_NEEDS, shapeFromKey, shapeLabel } from '../resources.js';
import { SHAPE_VIEW } from './claim-shapes.js';

export interface ShapeTally {
  shape: string;
  todo: number;
}

export async function todoShapes(http: CouchHttp, todo: number, signal?: AbortSignal): Promise<ShapeTally[]> {
  const res = await http.request<{ rows?: Array<{ key: unknown; value: number }> }>({ path: http.dbPath(`/${SHAPE_VIEW}`), query: { group_level: 3 }, signal });
  if (res.status === 404) return [];
  if (res.status !== 200) throw http.errorFor(res, `reading ${SHAPE_VIEW}`);
  const larger = (res.body.rows ?? []).flatMap((r) => {
    const shape = shapeFromKey(r.key);
    return shape && r.value > 0 ? [{ shape: shapeLabel(shape), todo: r.value }] : [];
  });
  if (larger.length === 0) return [];
  const oneCore = Math.max(0, todo - larger.reduce((n, s) => n + s.todo, 0));
  return [{ shape: shapeLabel(DEFAULT_NEEDS), todo: oneCore }, ...larger];
}
