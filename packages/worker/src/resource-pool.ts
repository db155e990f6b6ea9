/**
 * The pilot's cores, GPUs and memory, handed out to running tokens (pure: no I/O). A grant names the cores
 * (0..cpus-1, for `--pin`) and the GPU ids a token gets: the lowest free ones, never two tokens the same.
 * Memory is only counted: nothing stops a command from using more (docs/resources.md).
 */
import type { Resources } from '@picas/core';

export interface PoolShape {
  cpus: number;
  /** GPU ids (indices or UUIDs) */
  gpus: readonly string[];
  /** bytes */
  mem: number;
}

export interface Grant {
  readonly needs: Resources;
  /** core numbers, 0-based */
  readonly cores: readonly number[];
  readonly gpus: readonly string[];
}

export class ResourcePool {
  private readonly coreFree: boolean[];
  private readonly gpuFree: Map<string, boolean>;
  private memUsed = 0;

  constructor(readonly shape: PoolShape) {
    this.coreFree = Array.from({ length: shape.cpus }, () => true);
    this.gpuFree = new Map(shape.gpus.map((id) => [id, true]));
  }

  /** What is free now. */
  free(): Resources {
    return { cpus: this.coreFree.filter(Boolean).length, gpus: [...this.gpuFree.values()].filter(Boolean).length, mem: Math.max(0, this.shape.mem - this.memUsed) };
  }

  /** All of it: what is free when nothing runs. */
  total(): Resources {
    return { cpus: this.shape.cpus, gpus: this.shape.gpus.length, mem: this.shape.mem };
  }

  /** Takes cores, GPUs and memory for `needs`, or undefined (nothing taken) when they are not all free. */
  tryTake(needs: Resources): Grant | undefined {
    const cores = pick(this.coreFree.map((free, i) => [i, free] as const), needs.cpus);
    const gpus = pick([...this.gpuFree.entries()], needs.gpus);
    if (!cores || !gpus || this.memUsed + needs.mem > this.shape.mem) return undefined;
    for (const c of cores) this.coreFree[c] = false;
    for (const g of gpus) this.gpuFree.set(g, false);
    this.memUsed += needs.mem;
    return { needs, cores, gpus };
  }

  /** Gives a grant back. */
  give(grant: Grant): void {
    for (const c of grant.cores) this.coreFree[c] = true;
    for (const g of grant.gpus) this.gpuFree.set(g, true);
    this.memUsed -= grant.needs.mem;
  }
}

/** The first `n` free ids, or undefined when fewer are free. */
function pick<T>(entries: ReadonlyArray<readonly [T, boolean]>, n: number): T[] | undefined {
  const free = entries.filter(([, isFree]) => isFree).map(([id]) => id);
  return free.length >= n ? free.slice(0, n) : undefined;
}
