/**
 * Tokens no pilot like this one can run: shapes waiting in the pool whose needs exceed what the pilot has
 * even when empty. They stay todo (for a larger pilot); the pilot says so once per shape, naming what it
 * lacks: "12 tokens need 64 cpus; this pilot has 16".
 */
import { formatSize, shapeLabel, type Logger, type Resources } from '@picas/core';
import type { ShapeCount } from '@picas/core/ops/claim';

export class OversizedTokens {
  private readonly told = new Set<string>();

  constructor(private readonly log: Logger) {}

  /** Logs each shape that exceeds `total` the first time it is seen. */
  note(shapes: readonly ShapeCount[], total: Resources): void {
    for (const { shape, count } of shapes) {
      const label = shapeLabel(shape);
      const lacks = exceeded(shape, total);
      if (lacks.length === 0 || this.told.has(label)) continue;
      this.told.add(label);
      const tokens = `${count} token${count === 1 ? '' : 's'}`;
      this.log.warn({ shape: label, tokens: count, needs: shape, has: total }, `${tokens} (${label}) left todo: ${lacks.join('; ')}`);
    }
  }
}

/** What exceeds: `need 64 cpus; this pilot has 16`, per resource. */
export function exceeded(needs: Resources, total: Resources): string[] {
  const out: string[] = [];
  if (needs.cpus > total.cpus) out.push(`need ${needs.cpus} cpus; this pilot has ${total.cpus}`);
  if (needs.gpus > total.gpus) out.push(`need ${needs.gpus} gpus; this pilot has ${total.gpus}`);
  if (needs.mem > total.mem) out.push(`need ${formatSize(needs.mem)} memory; this pilot has ${formatSize(total.mem)}`);
  return out;
}
