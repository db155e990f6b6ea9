/**
 * The pilot's stop: requested once (the first SIGTERM/SIGINT, --max-time, a fatal error), and then seen by
 * everything that waits (`signal`) or decides (`stopping`, `request`). Later requests are ignored.
 */
export type StopKind = 'signal' | 'max-time' | 'fatal';

export interface StopRequest {
  kind: StopKind;
  reason: string;
}

export class StopSwitch {
  private current?: StopRequest;
  private readonly controller = new AbortController();
  private readonly listeners: Array<(request: StopRequest) => void> = [];

  get request(): StopRequest | undefined {
    return this.current;
  }

  get stopping(): boolean {
    return this.current !== undefined;
  }

  /** aborted by the stop: cuts waits and requests short */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Called once, when the stop is requested (after `signal` is aborted). */
  onStop(listener: (request: StopRequest) => void): void {
    this.listeners.push(listener);
  }

  /** False when a stop was requested before (this one is ignored). */
  stop(reason: string, kind: StopKind): boolean {
    if (this.current) return false;
    this.current = { kind, reason };
    this.controller.abort(reason);
    for (const listener of this.listeners) listener(this.current);
    return true;
  }
}
