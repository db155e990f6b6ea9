/**
 * At most one view read per second, however many changes arrive: every view (and `_all_docs`) request the
 * dashboard makes waits here for its turn, and turns start at least `intervalMs` apart (the first load
 * included: the counts come first, so the page paints them at once, and the other parts follow a second apart).
 */
import { sleep } from '@picas/core';

export class ReadGate {
  /** view reads started */
  reads = 0;
  /** when the last turn started (performance.now()) */
  lastTurnAt = -Infinity;

  constructor(private readonly intervalMs = 1000) {}

  /** Waits for the next turn (or until `signal` aborts), then counts the read. */
  async turn(signal?: AbortSignal): Promise<boolean> {
    // a timer may fire a little early: wait again until the turn has really come (a monotonic clock)
    for (let wait = this.waitMs(); wait > 0 && !signal?.aborted; wait = this.waitMs()) await sleep(wait, signal);
    if (signal?.aborted) return false;
    this.take();
    return true;
  }

  private take(): void {
    this.reads++;
    this.lastTurnAt = performance.now();
  }

  /** Milliseconds until the next turn. */
  waitMs(): number {
    return Math.max(0, this.lastTurnAt + this.intervalMs - performance.now());
  }
}
