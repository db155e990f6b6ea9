/**
 * The pilot's work root (`<--workdir or tmp>/picas-<worker id>`) and each run's place in it: a working
 * directory and the command's stdout and stderr files, removed when the result is written (unless
 * --keep-workdir).
 */
import { mkdirSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { safeFileName } from './worker-id.js';

export interface RunPaths {
  cwd: string;
  stdoutPath: string;
  stderrPath: string;
}

export class RunFiles {
  /** numbers the runs' working directories */
  private seq = 0;

  constructor(readonly root: string) {}

  create(): void {
    mkdirSync(this.root, { recursive: true });
  }

  /**
   * A new working directory for one run: the token id and a counter (a kept work root from an earlier
   * pilot with the same --worker-id may hold the same names: those are skipped).
   */
  forRun(tokenId: string): RunPaths {
    const safe = safeFileName(tokenId);
    for (;;) {
      const base = `${safe}-${++this.seq}`;
      try {
        mkdirSync(join(this.root, base));
        return { cwd: join(this.root, base), stdoutPath: join(this.root, `${base}.out`), stderrPath: join(this.root, `${base}.err`) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }

  /**
   * Removes a finished run's directory and log files. Most commands leave their directory empty: one rmdir
   * then, and the recursive walk only when something is left in it.
   */
  removeRun(paths: RunPaths): void {
    try {
      rmdirSync(paths.cwd);
    } catch {
      rmSync(paths.cwd, { recursive: true, force: true, maxRetries: 2 });
    }
    for (const file of [paths.stdoutPath, paths.stderrPath]) {
      try {
        unlinkSync(file);
      } catch {
        // never written, or already gone
      }
    }
  }

  removeAll(): void {
    rmSync(this.root, { recursive: true, force: true, maxRetries: 2 });
  }
}
