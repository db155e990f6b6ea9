/**
 * `picas launch local -n N` splits this machine among its pilots: each gets its share of the cores as
 * --cpus (at least one), unless --cpus or --slots was given (docs/resources.md).
 */
import { availableParallelism } from 'node:os';
import type { WorkerValues } from './worker-option-flags.js';

export function withMachineShare(values: WorkerValues, count: number, parallelism = availableParallelism()): WorkerValues {
  if (values.cpus !== undefined || values.slots !== undefined) return values;
  return { ...values, cpus: String(Math.max(1, Math.floor(parallelism / count))) };
}
