/**
 * Progress of a long, paged operation (reset, retry, delete, list) on stderr: a progress bar redrawn after
 * each page when stderr is a terminal; otherwise, once the operation has run for a while, a plain line
 * every so often (logs of a job that resets a million tokens show it is alive). A view index being built
 * is reported the way `picas status` does (view-progress.ts: `building the index of ...`).
 */
import type { Couch } from '@picas/core';
import { describeBuilds, type IndexBuild } from '@picas/core/ops/view-progress';
import { ProgressLine } from './progress-bar.js';

/** A plain progress line at most this often (and not before the operation has run this long) when stderr is not a terminal. */
const PLAIN_EVERY_MS = 10_000;

export class OpProgress {
  private readonly line: ProgressLine;
  private readonly startedMs = Date.now();
  private lastPlainMs = 0;
  private readonly everyMs: number;

  constructor(
    private readonly label: string,
    private total: number | undefined,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.line = new ProgressLine(label, stream);
    const every = Number(process.env.PICAS_PROGRESS_EVERY_MS);
    this.everyMs = Number.isFinite(every) && every >= 0 ? every : PLAIN_EVERY_MS;
  }

  /** A terminal: the bar is drawn (and worth a count of the total up front). */
  get tty(): boolean {
    return this.line.enabled;
  }

  setTotal(total: number | undefined): void {
    this.total = total;
  }

  /** For `onProgress` of the core operations: an index build, reported as `picas status` does. */
  readonly onIndexBuild = (builds: IndexBuild[]): void => {
    this.line.clear();
    this.stream.write(`${describeBuilds(builds)}\n`);
  };

  /** After each page: `done` of the total processed, and a few words (e.g. `12 reset, 1 skipped`). */
  update(done: number, detail = ''): void {
    if (this.line.enabled) {
      this.line.update(done, Math.max(done, this.total ?? done), detail);
      return;
    }
    const now = Date.now();
    if (now - this.startedMs < this.everyMs || now - this.lastPlainMs < this.everyMs) return;
    this.lastPlainMs = now;
    this.stream.write(`${this.label}: ${done}${this.total !== undefined ? ` of ${Math.max(done, this.total)}` : ''}${detail ? ` (${detail})` : ''}\n`);
  }

  /** Before writing other output to the terminal. */
  clear(): void {
    this.line.clear();
  }

  finish(): void {
    this.line.finish();
  }
}

/**
 * The number of tokens in a state, for the progress bar's total: only on a terminal (elsewhere the plain
 * lines need no total), from the same `picas/state_counts` read as `picas status`. Undefined if it fails.
 */
export async function stateTotal(couch: Couch, state: 'todo' | 'locked' | 'done' | 'error', progress: OpProgress): Promise<number | undefined> {
  if (!progress.tty) return undefined;
  const { stateCounts } = await import('@picas/core/ops/status');
  try {
    return (await stateCounts(couch, { onProgress: progress.onIndexBuild }))[state];
  } catch {
    return undefined;
  }
}
