/** The targets on the server's CPU per token, beside its floor and the PiCaS loop's. */
import type { E2EResult } from './end-to-end.js';
import { fmt } from './number-format.js';
import type { RevisionFloor } from './revision-floor.js';

/**
 * Server CPU per token at 4 and 16 pilots: <= 3 ms, and <= 1/8 of the PiCaS-protocol loop's in the same run;
 * each beside the server's own floor (revision-floor.ts), which no pilot can go below.
 */
export function serverCpuTargets(e2e: E2EResult[], baseline: E2EResult, floor: RevisionFloor) {
  const out = [];
  const floorMs = floor.msPerToken;
  if (Number.isFinite(floorMs)) {
    out.push({ target: `the server's floor per token (its two revisions in _bulk_docs of ${floor.batch}, no reads) <= 3 ms`, value: `${fmt(floorMs, 2)} ms`, ok: floorMs <= 3, hard: false });
  }
  for (const name of ['4 workers', '16 workers']) {
    const r = e2e.find((e) => e.name === name);
    if (!r || !Number.isFinite(r.cpuMsPerToken.server)) continue;
    const ms = r.cpuMsPerToken.server;
    const base = baseline.cpuMsPerToken.server;
    const ofFloor = Number.isFinite(floorMs) ? `, ${fmt(ms / floorMs, 1)} x the floor` : '';
    out.push({ target: `server CPU per token at ${name} <= 3 ms`, value: `${fmt(ms, 2)} ms${ofFloor}`, ok: ms <= 3, hard: false });
    if (Number.isFinite(base)) out.push({ target: `server CPU per token at ${name} <= 1/8 of the PiCaS loop's`, value: `1/${fmt(base / ms, 1)} (${fmt(ms, 2)} vs ${fmt(base, 2)} ms; the floor: 1/${fmt(base / floorMs, 1)})`, ok: ms * 8 <= base, hard: false });
  }
  return out;
}
