/** What this machine says about itself, for pilot-resources.ts: cores, memory, and the cgroup memory limit. */
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import type { MachineFacts } from './pilot-resources.js';

/** cgroup v2, then v1; a v1 "no limit" is a huge number, which the caller ignores (above the machine's memory) */
const CGROUP_MEMORY_FILES = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'];

export function readMachineFacts(): MachineFacts {
  return { parallelism: availableParallelism(), totalMem: totalmem(), cgroupMem: cgroupMemoryLimit() };
}

function cgroupMemoryLimit(): number | undefined {
  for (const file of CGROUP_MEMORY_FILES) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      continue;
    }
    if (text === 'max') return undefined;
    const n = Number(text);
    if (Number.isSafeInteger(n) && n > 0) return n;
  }
  return undefined;
}
