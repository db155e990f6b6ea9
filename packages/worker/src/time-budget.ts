/**
 * The pilot's time budget: when it must be done. Inside Slurm, the job's end time comes from
 * `squeue -h -j $SLURM_JOB_ID -o %e` (Slurm prints local time without a zone); elsewhere, or when squeue
 * gives nothing usable, from `--time-budget`. A token is claimed only if its expected runtime plus the
 * margin fits in what remains. The expected runtime is the token's `expected_seconds`, else the runtime
 * factor times the mean runtime of this pilot's finished tokens, else 0 (nothing known yet).
 */
import { execa } from 'execa';
import type { Logger, TokenDoc } from '@picas/core';

/** Parses squeue's `%e` (e.g. `2025-06-01T13:45:00`, local time). Undefined for N/A, Unknown, NONE or garbage. */
export function parseSlurmTime(text: string): number | undefined {
  const s = text.trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(y, mo - 1, d, h, mi, se);
  return Number.isNaN(date.getTime()) ? undefined : date.getTime();
}

export async function slurmEndTime(jobId: string, log?: Logger): Promise<number | undefined> {
  try {
    const r = await execa('squeue', ['-h', '-j', jobId, '-o', '%e'], { timeout: 15_000, reject: false, stdin: 'ignore' });
    if (r.exitCode !== 0) {
      log?.warn({ exit_code: r.exitCode, stderr: String(r.stderr).slice(0, 200) }, 'squeue failed: using --time-budget');
      return undefined;
    }
    const end = parseSlurmTime(String(r.stdout).split('\n')[0] ?? '');
    if (end === undefined) log?.info({ squeue: String(r.stdout).trim().slice(0, 80) }, 'squeue gave no end time: using --time-budget');
    return end;
  } catch (err) {
    log?.warn({ err }, 'could not run squeue: using --time-budget');
    return undefined;
  }
}

export interface BudgetSettings {
  /** when the pilot must be done (epoch ms), or undefined for no budget */
  endAtMs?: number;
  marginMs: number;
  runtimeFactor: number;
}

export class TimeBudget {
  private runs = 0;
  private totalMs = 0;

  constructor(readonly settings: BudgetSettings) {}

  static async detect(options: { timeBudgetMs?: number; marginMs: number; runtimeFactor: number; startedMs: number }, env: Record<string, string | undefined>, log?: Logger): Promise<TimeBudget> {
    let endAtMs = options.timeBudgetMs !== undefined ? options.startedMs + options.timeBudgetMs : undefined;
    let source = endAtMs !== undefined ? '--time-budget' : 'none';
    if (env.SLURM_JOB_ID) {
      const slurmEnd = await slurmEndTime(env.SLURM_JOB_ID, log);
      if (slurmEnd !== undefined && (endAtMs === undefined || slurmEnd < endAtMs)) {
        endAtMs = slurmEnd;
        source = 'squeue';
      }
    }
    log?.debug({ end_at: endAtMs ? new Date(endAtMs).toISOString() : null, source }, 'time budget');
    return new TimeBudget({ endAtMs, marginMs: options.marginMs, runtimeFactor: options.runtimeFactor });
  }

  /** ms left until the end, or Infinity without a budget */
  remainingMs(nowMs = Date.now()): number {
    return this.settings.endAtMs === undefined ? Infinity : this.settings.endAtMs - nowMs;
  }

  /** mean runtime of the tokens this pilot finished, or undefined before the first */
  meanMs(): number | undefined {
    return this.runs > 0 ? this.totalMs / this.runs : undefined;
  }

  expectedMs(doc: Pick<TokenDoc, 'expected_seconds'>): number {
    const declared = Number(doc.expected_seconds);
    if (doc.expected_seconds !== undefined && doc.expected_seconds !== null && Number.isFinite(declared) && declared >= 0) return declared * 1000;
    const mean = this.meanMs();
    return mean === undefined ? 0 : mean * this.settings.runtimeFactor;
  }

  /** Whether a token with this expected runtime fits: expected + margin <= remaining. */
  fits(doc: Pick<TokenDoc, 'expected_seconds'>, nowMs = Date.now()): boolean {
    if (this.settings.endAtMs === undefined) return true;
    return this.expectedMs(doc) + this.settings.marginMs <= this.remainingMs(nowMs);
  }

  record(runMs: number): void {
    this.runs++;
    this.totalMs += runMs;
  }
}
