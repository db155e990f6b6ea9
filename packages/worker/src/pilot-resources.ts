/**
 * What a pilot has to pack tokens into: cores, GPUs (by index) and memory, and where each came from
 * (docs/resources.md). Pure: the environment and the machine's facts (machine-facts.ts) come in as values.
 *
 * Each of the three comes from, in this order:
 *  - its option (`--cpus`, `--gpus`, `--mem`, or the env twins PICAS_PILOT_CPUS, PICAS_PILOT_GPUS,
 *    PICAS_PILOT_MEM; PICAS_CPUS, PICAS_GPUS, PICAS_MEM are what each running token is given);
 *  - cores only: `--slots N` (N tokens of one core: N cores);
 *  - inside Slurm (SLURM_JOB_ID set): SLURM_CPUS_PER_TASK, else SLURM_CPUS_ON_NODE; SLURM_MEM_PER_NODE,
 *    else SLURM_MEM_PER_CPU x cores (both in MB); GPUs from CUDA_VISIBLE_DEVICES (what Slurm gives the
 *    job's processes), else SLURM_JOB_GPUS;
 *  - outside Slurm: cores 1 (a pilot with no options runs one token at a time, as before; `--cpus auto`
 *    takes this machine's `os.availableParallelism()`), memory the cgroup limit, else the machine's,
 *    GPUs from CUDA_VISIBLE_DEVICES, else none.
 */
import { formatSize, parseSize } from '@picas/core';

/** The pilot's options about what it has, as given (checked by `parsePilotResourceFlags`). */
export interface PilotResourceFlags {
  cpus?: number | 'auto';
  /** GPU indices (or UUIDs) */
  gpus?: string[];
  mem?: number;
  /** `--slots`, when given */
  slots?: number;
  /** where each given value came from (e.g. `--cpus`, `env PICAS_PILOT_CPUS`) */
  sources: Partial<Record<'cpus' | 'gpus' | 'mem' | 'slots', string>>;
}

/** What the machine says about itself (machine-facts.ts). */
export interface MachineFacts {
  /** os.availableParallelism() */
  parallelism: number;
  /** os.totalmem() */
  totalMem: number;
  /** the cgroup memory limit, when there is one */
  cgroupMem?: number;
}

export interface PilotResources {
  cpus: number;
  gpus: string[];
  /** bytes */
  mem: number;
  /** where each came from, for the log line */
  from: { cpus: string; gpus: string; mem: string };
}

const MB = 1024 * 1024;

/** Checks the raw option values; problems name the flag and where its value came from. */
export function parsePilotResourceFlags(
  raw: { cpus?: unknown; gpus?: unknown; mem?: unknown; slots?: unknown },
  sources: Record<string, string>,
): { flags: PilotResourceFlags; problems: string[] } {
  const problems: string[] = [];
  const flags: PilotResourceFlags = { sources: {} };
  const given = (key: 'cpus' | 'gpus' | 'mem' | 'slots') => raw[key] !== undefined && sources[key] !== 'default';
  if (given('cpus')) {
    const text = String(raw.cpus).trim();
    const n = Number(text);
    if (text === 'auto') flags.cpus = 'auto';
    else if (/^\d+$/.test(text) && n >= 1) flags.cpus = n;
    else problems.push(`--cpus (from ${sources.cpus}): '${text}' must be a whole number of at least 1, or auto`);
    flags.sources.cpus = sources.cpus;
  }
  if (given('gpus')) {
    const gpus = parseGpuList(String(raw.gpus));
    if (gpus === undefined) problems.push(`--gpus (from ${sources.gpus}): '${String(raw.gpus)}' must be a number of GPUs (0, 2) or a list of indices (0,1 or 3,)`);
    else flags.gpus = gpus;
    flags.sources.gpus = sources.gpus;
  }
  if (given('mem')) {
    const bytes = parseSize(raw.mem);
    if (bytes === undefined) problems.push(`--mem (from ${sources.mem}): '${String(raw.mem)}' must be bytes or a size like 512M, 16G (K, M, G, T)`);
    else flags.mem = bytes;
    flags.sources.mem = sources.mem;
  }
  if (given('slots')) {
    flags.slots = Number(raw.slots);
    flags.sources.slots = sources.slots;
  }
  return { flags, problems };
}

/** `--gpus`: a count N (indices 0..N-1), or a list of indices or UUIDs with a comma (`0,1`, `3,`). */
export function parseGpuList(text: string): string[] | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Array.from({ length: Number(t) }, (_, i) => String(i));
  if (!t.includes(',')) return undefined;
  const ids = t.split(',').map((s) => s.trim()).filter(Boolean);
  return ids.length > 0 && new Set(ids).size === ids.length && ids.every((id) => /^[\w:-]+$/.test(id)) ? ids : undefined;
}

/** A list of device ids from CUDA_VISIBLE_DEVICES or SLURM_JOB_GPUS; undefined when unset or empty. */
function deviceList(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '' || value.trim() === 'NoDevFiles') return undefined;
  const ids = value.split(',').map((s) => s.trim()).filter(Boolean);
  return ids.length > 0 ? ids : undefined;
}

function positiveInt(value: string | undefined): number | undefined {
  const n = Number(value?.trim().replace(/\(.*$/, ''));
  return value !== undefined && Number.isInteger(n) && n >= 1 ? n : undefined;
}

/** What the pilot has, and where each part came from. */
export function detectPilotResources(flags: PilotResourceFlags, env: Record<string, string | undefined>, machine: MachineFacts): PilotResources {
  const inSlurm = !!env.SLURM_JOB_ID;
  let cpus: number;
  let cpusFrom: string;
  const perTask = positiveInt(env.SLURM_CPUS_PER_TASK);
  // SLURM_CPUS_ON_NODE may read like "2(x3)" in some versions: the count comes first
  const onNode = positiveInt(env.SLURM_CPUS_ON_NODE);
  if (typeof flags.cpus === 'number') [cpus, cpusFrom] = [flags.cpus, flags.sources.cpus!];
  else if (flags.cpus === 'auto') [cpus, cpusFrom] = [machine.parallelism, `${flags.sources.cpus}: auto, this machine's available parallelism`];
  else if (flags.slots !== undefined) [cpus, cpusFrom] = [flags.slots, `${flags.sources.slots} (tokens of one core)`];
  else if (inSlurm && perTask) [cpus, cpusFrom] = [perTask, 'SLURM_CPUS_PER_TASK'];
  else if (inSlurm && onNode) [cpus, cpusFrom] = [onNode, 'SLURM_CPUS_ON_NODE'];
  else [cpus, cpusFrom] = [1, `default: one token at a time (this machine has ${machine.parallelism}: --cpus auto to use them)`];

  let mem: number;
  let memFrom: string;
  const perNode = positiveInt(env.SLURM_MEM_PER_NODE);
  const perCpu = positiveInt(env.SLURM_MEM_PER_CPU);
  if (flags.mem !== undefined) [mem, memFrom] = [flags.mem, flags.sources.mem!];
  else if (inSlurm && perNode) [mem, memFrom] = [perNode * MB, 'SLURM_MEM_PER_NODE'];
  else if (inSlurm && perCpu) [mem, memFrom] = [perCpu * MB * cpus, `SLURM_MEM_PER_CPU x ${cpus} cpus`];
  else if (machine.cgroupMem !== undefined && machine.cgroupMem < machine.totalMem) [mem, memFrom] = [machine.cgroupMem, 'the cgroup memory limit'];
  else [mem, memFrom] = [machine.totalMem, "this machine's memory"];

  let gpus: string[];
  let gpusFrom: string;
  const cuda = deviceList(env.CUDA_VISIBLE_DEVICES);
  const jobGpus = deviceList(env.SLURM_JOB_GPUS);
  if (flags.gpus !== undefined) [gpus, gpusFrom] = [flags.gpus, flags.sources.gpus!];
  else if (cuda) [gpus, gpusFrom] = [cuda, 'CUDA_VISIBLE_DEVICES'];
  else if (inSlurm && jobGpus) [gpus, gpusFrom] = [jobGpus, 'SLURM_JOB_GPUS'];
  else [gpus, gpusFrom] = [[], 'none found (no --gpus, CUDA_VISIBLE_DEVICES or SLURM_JOB_GPUS)'];

  return { cpus, gpus, mem, from: { cpus: cpusFrom, gpus: gpusFrom, mem: memFrom } };
}

/** The log line: `4 cpus (--cpus), GPUs 0,1 (--gpus), 16G memory (SLURM_MEM_PER_NODE)`. */
export function describePilotResources(r: PilotResources): string {
  const gpus = r.gpus.length ? `GPUs ${r.gpus.join(',')}` : 'no GPUs';
  return `${r.cpus} cpu${r.cpus === 1 ? '' : 's'} (${r.from.cpus}), ${gpus} (${r.from.gpus}), ${formatSize(r.mem)} memory (${r.from.mem})`;
}
