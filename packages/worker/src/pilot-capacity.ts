/**
 * What the pilot has, detected once at start from its options, its environment and the machine
 * (pilot-resources.ts), logged with where each part came from, and whether `--pin` can bind tokens to
 * cores; then the HTTP connections it needs, and its Capacity. bin.ts detects before it opens the
 * connection to CouchDB, so that the connection pool is sized for what was found (a 16-cpu Slurm pilot
 * needs more than the 4 connections of a one-core one), and hands the result to the Worker.
 */
import type { Logger } from '@picas/core';
import { Capacity } from './capacity.js';
import { readMachineFacts } from './machine-facts.js';
import type { WorkerOptions } from './options.js';
import { describePilotResources, detectPilotResources, type PilotResources } from './pilot-resources.js';
import type { TimeBudget } from './time-budget.js';
import { tasksetAvailable } from './token-placement.js';

/** What the pilot has, as found once at start. */
export interface PilotSetup {
  resources: PilotResources;
  /** the most tokens running at once */
  slots: number;
  /** --pin, with taskset found */
  pin: boolean;
}

export function detectPilot(o: WorkerOptions, env: Record<string, string | undefined>, log: Logger): PilotSetup {
  const resources = detectPilotResources(o.pilot, env, readMachineFacts());
  log.info({ cpus: resources.cpus, gpus: resources.gpus, mem: resources.mem, from: resources.from }, `resources: ${describePilotResources(resources)}`);
  const pin = o.pin && tasksetAvailable();
  if (o.pin && !pin) log.warn('--pin: taskset was not found (util-linux); tokens run without being bound to their cores');
  // --slots with --cpus caps how many tokens run at once; alone it is the number of cores
  const slots = o.pilot.cpus !== undefined && o.pilot.slots !== undefined ? o.pilot.slots : resources.cpus;
  return { resources, slots, pin };
}

/** HTTP connections for a pilot running `slots` tokens at once: each token's heartbeat and result, and the claims. */
export function pilotConnections(setup: PilotSetup): number {
  return Math.max(4, setup.slots * 2 + 2);
}

export function pilotCapacity(setup: PilotSetup, o: WorkerOptions, budget: TimeBudget): Capacity {
  return new Capacity({ slots: setup.slots, budget, pool: setup.resources, reserveAfterMs: o.reserveAfter, pin: setup.pin });
}
