/**
 * Where a running token goes on the pilot's resources: the env that tells its command what it got
 * (PICAS_CPUS and OMP_NUM_THREADS = its cores, PICAS_GPUS and CUDA_VISIBLE_DEVICES = its own GPU ids,
 * PICAS_MEM = its memory in bytes), and with `--pin` its command wrapped in `taskset -c CORES`.
 */
import { execFileSync } from 'node:child_process';
import type { Grant } from './resource-pool.js';

/** the env var that carries the command through `taskset` (see `pinned`) */
const PINNED_COMMAND = 'PICAS_PINNED_COMMAND';

/** The command and extra env of a token started on `grant`; `pin`: bound to its cores. */
export function placement(command: string, grant: Grant, pin: boolean): { command: string; env: Record<string, string> } {
  if (!pin) return { command, env: placementEnv(grant) };
  const p = pinned(command, grant);
  return { command: p.command, env: { ...placementEnv(grant), ...p.env } };
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

/**
 * The command bound to the grant's cores: it runs as `taskset -c LIST bash -c "$PICAS_PINNED_COMMAND"`,
 * so the command's text is passed unchanged, through the env, and every process it starts inherits the
 * binding.
 */
function pinned(command: string, grant: Grant): { command: string; env: Record<string, string> } {
  return { command: `exec taskset -c ${grant.cores.join(',')} bash -c "$${PINNED_COMMAND}"`, env: { [PINNED_COMMAND]: command } };
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
