/**
 * A background pass the pilot runs on a jittered interval (so that many pilots do not run it at the same
 * moment) and on demand: one run at a time (a second caller shares the run in progress), errors logged and
 * never thrown, and a stop path that clears the timer and waits for the run in progress.
 * The conflict repair and the dependency sweep are such passes.
 */
import type { Logger } from '@picas/core';

export class PeriodicPass<T> {
  private timer?: NodeJS.Timeout;
  private running?: Promise<T | undefined>;
  private stopped = false;
  lastRunMs = 0;

  constructor(
    private readonly pass: () => Promise<T>,
    private readonly options: { intervalMs: number; log: Logger; failure: string; random?: () => number },
  ) {}

  start(): void {
    if (this.options.intervalMs <= 0) return;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const jitter = 0.5 + (this.options.random ?? Math.random)();
    this.timer = setTimeout(() => void this.runOnce().finally(() => this.schedule()), Math.round(this.options.intervalMs * jitter));
    this.timer.unref();
  }

  /** One pass; undefined when it failed (logged). */
  runOnce(): Promise<T | undefined> {
    if (this.running) return this.running;
    this.lastRunMs = Date.now();
    this.running = this.pass()
      .catch((err: unknown) => {
        this.options.log.warn({ err }, this.options.failure);
        return undefined;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
