/** Faults on demand: 401 (as for an access token the server refuses), 429 with Retry-After, 5xx before or after doing the work, and slow answers. */

export interface InjectedFault {
  /** e.g. 401, 429, 500, 502, 503; with `delayMs` and no status, the request is only slowed down */
  status?: number;
  /** how many matching requests it hits (default 1) */
  count?: number;
  /** the Retry-After header, in seconds (`"1"`) or as an HTTP date */
  retryAfter?: string;
  method?: string;
  /** hits only request paths containing this text (after lowercasing) */
  pathIncludes?: string;
  /** `before` (default): answer without doing anything; `after`: do the work, then answer with the fault */
  when?: 'before' | 'after';
  /** wait this long before answering */
  delayMs?: number;
}

/** The faults still to hit, each with the number of requests it has left. */
export class FaultQueue {
  private faults: Array<InjectedFault & { left: number }> = [];

  add(fault: InjectedFault): void {
    this.faults.push({ ...fault, left: fault.count ?? 1 });
  }

  clear(): void {
    this.faults = [];
  }

  /** The first fault that matches this request, used up by one. */
  take(method: string, path: string): InjectedFault | undefined {
    const fault = this.faults.find((f) => f.left > 0 && (!f.method || f.method.toUpperCase() === method) && (!f.pathIncludes || path.includes(f.pathIncludes.toLowerCase())));
    if (!fault) return undefined;
    fault.left--;
    this.faults = this.faults.filter((f) => f.left > 0);
    return fault;
  }
}

/** Waits `ms`, or less when `signal` aborts (the stand-in closing). */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
