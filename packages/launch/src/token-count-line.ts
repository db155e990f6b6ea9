/**
 * The token counts as the launchers print them (`todo 3, locked 1, done 40, error 0`), next to their
 * pilots: PiCaS' four states, the numbers Python PiCaS shows too (core's stateCounts).
 */
import type { StateCounts } from '@picas/core/ops/status';

export function formatTokenCounts(counts: StateCounts): string {
  return `todo ${counts.todo}, locked ${counts.locked}, done ${counts.done}, error ${counts.error}`;
}
