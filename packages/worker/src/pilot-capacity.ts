/**
 * The pilot's Capacity, from its options, its environment and the machine: what it has (pilot-resources.ts),
 * logged once with where each part came from, and whether `--pin` can bind tokens to cores.
 */
import type { Logger } from '@picas/core';
import { Capacity } from './capacity.js';
import { readMachineFacts } from './machine-facts.js';
import type { WorkerOptions } from './options.js';
import { describePilotResources, detectPilotResources } from './pilot-resources.js';
import type { TimeBudget } from './time-budget.js';
import { tasksetAvailable } from './token-placement.js';

export function pilotCapacity(o: WorkerOptions, env: Record<string, string | undefined>, budget: TimeBudget, log: Logger): Capacity {
  const resources = detectPilotResources(o.pilot, env, readMachineFacts());
  log.info({ cpus: resources.cpus, gpus: resources.gpus, mem: resources.mem, from: resources.from }, `resources: ${describePilotResources(resources)}`);
  const pin = o.pin && tasksetAvailable();
  if (o.pin && !pin) log.warn('--pin: taskset was not found (util-linux); tokens run without being bound to their cores');
  // --slots with --cpus caps how many tokens run at once; alone it is the number of cores
  const slots = o.pilot.cpus !== undefined && o.pilot.slots !== undefined ? o.pilot.slots : resources.cpus;
  return new Capacity({ slots, budget, pool: resources, reserveAfterMs: o.reserveAfter, pin });
}
