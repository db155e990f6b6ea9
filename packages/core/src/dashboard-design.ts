/**
 * `_design/picas_dashboard`: the two views `picas dashboard` reads, in a design document of their own so
 * that they build apart from PiCaS' Monitor and our claim views. Both are small and keyed by finish time,
 * so the dashboard never reads every document:
 * - finished_by_minute: key [minute since the epoch, "done" | "error", second in that minute], reduce
 *   _count: the chart of tokens finished (group_level=2 gives one row per minute and state; a short run is
 *   read at group_level=3, per second, for finer bins).
 * - failures: key `done` (epoch seconds), for tokens in error, with the exit code, host, pilot and the last
 *   error message as the value: the failures table reads the newest few (descending, limit).
 * The states use PiCaS' view conditions (design-docs.ts), so the counts agree with Monitor.
 */
import type { DesignDoc } from './design-doc.js';

export const DASHBOARD_DESIGN: DesignDoc = {
  _id: '_design/picas_dashboard',
  language: 'javascript',
  views: {
    finished_by_minute: {
      map: `function (doc) {
  if (doc.type == "token" && doc.lock > 0 && doc.done > 0) {
    emit([Math.floor(doc.done / 60), parseInt(doc.exit_code) == 0 ? "done" : "error", Math.floor(doc.done) % 60], null);
  }
}`,
      reduce: '_count',
    },
    failures: {
      map: `function (doc) {
  if (doc.type == "token" && doc.lock > 0 && doc.done > 0 && parseInt(doc.exit_code) != 0) {
    var errors = doc.error && doc.error.length ? doc.error : [];
    var last = errors.length ? errors[errors.length - 1] : null;
    emit(doc.done, {
      exit_code: doc.exit_code,
      hostname: doc.hostname || "",
      worker_id: doc.worker_id || "",
      scrub_count: doc.scrub_count || 0,
      message: last && last.message ? String(last.message).slice(0, 300) : ""
    });
  }
}`,
    },
  },
};
