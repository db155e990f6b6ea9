/**
 * The pilot's scratch root (`$TMPDIR/picas-<worker id>`) and each run's place in it: a scratch directory
 * (PICAS_TOKEN_DIR; the working directory too with --isolate), the command's stdout and stderr files and,
 * for a command too long for one argument, its script file; removed when the result is written (unless
 * --keep-token-dirs).
 */
import { mkdirSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { safeFileName } from './worker-id.js';

export interface RunPaths {
  /** the run's own scratch directory */
  dir: string;
  stdoutPath: string;
  stderrPath: string;
  /** where a command too long to pass as an argument is written (see token-command.ts) */
  scriptPath: string;
}

export class RunFiles {
  /** numbers the runs' scratch directories */
  private seq = 0;

  constructor(readonly root: string) {}

  create(): void {
    mkdirSync(this.root, { recursive: true });
  }

  /**
   * A new scratch directory for one run: the token id and a counter (a kept scratch root from an earlier
   * pilot with the same --worker-id may hold the same names: those are skipped).
   */
  forRun(tokenId: string): RunPaths {
    const safe = safeFileName(tokenId);
    for (;;) {
      const base = `${safe}-${++this.seq}`;
      try {
        mkdirSync(join(this.root, base));
        return { dir: join(this.root, base), stdoutPath: join(this.root, `${base}.out`), stderrPath: join(this.root, `${base}.err`), scriptPath: join(this.root, `${base}.sh`) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }

  /**
   * Removes a finished run's directory, log files and script file. Most commands leave their directory empty: one rmdir
   * then, and the recursive walk only when something is left in it.
   */
  removeRun(paths: RunPaths): void {
    try {
      rmdirSync(paths.dir);
    } catch {
      rmSync(paths.dir, { recursive: true, force: true, maxRetries: 2 });
    }
    for (const file of [paths.stdoutPath, paths.stderrPath, paths.scriptPath]) {
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
