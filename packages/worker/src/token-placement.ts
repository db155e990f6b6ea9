/**
 * Where a running token goes on the pilot's resources: the env that tells its command what it got
 * (PICAS_CPUS and OMP_NUM_THREADS = its cores, PICAS_GPUS and CUDA_VISIBLE_DEVICES = its own GPU ids,
 * PICAS_MEM = its memory in bytes), and with `--pin` the launcher that binds its bash to its own cores
 * (`taskset -c CORES bash ...`: every process it starts inherits the binding).
 */
import { execFileSync } from 'node:child_process';
import type { Grant } from './resource-pool.js';

/** The extra env of a token started on `grant`, and with `pin` the launcher that binds it to its cores. */
export function placement(grant: Grant, pin: boolean): { env: Record<string, string>; launcher?: string[] } {
  return { env: placementEnv(grant), ...(pin ? { launcher: ['taskset', '-c', grant.cores.join(',')] } : {}) };
}

function placementEnv(grant: Grant): Record<string, string> {
  const gpus = grant.gpus.join(',');
  return {
    PICAS_CPUS: String(grant.needs.cpus),
    OMP_NUM_THREADS: String(grant.needs.cpus),
    PICAS_GPUS: gpus,
    CUDA_VISIBLE_DEVICES: gpus,
    PICAS_MEM: String(grant.needs.mem),
  };
}

/** Whether `taskset` can be run here (util-linux). */
export function tasksetAvailable(): boolean {
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}
