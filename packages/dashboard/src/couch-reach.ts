/**
 * Whether CouchDB answers, as the dashboard's reads and its `_changes` feed see it. Only a fault of the
 * connection or a 5xx (UnreachableError) counts: a missing view or a refused read is a problem of its part,
 * not an outage. Changes are reported only when the answer flips, with the time it did, so the page can say
 * `CouchDB unreachable since HH:MM` and mark the numbers it still shows as stale.
 */
import { redactText, UnreachableError } from '@picas/core';

export interface CouchReachState {
  reachable: boolean;
  /** epoch ms of the last flip (or of the start) */
  since: number;
  /** why it is unreachable (credentials scrubbed) */
  reason?: string;
}

export class CouchReach {
  private current: CouchReachState;

  constructor(
    private readonly onChange: (state: CouchReachState) => void,
    private readonly secrets: readonly string[] = [],
    nowMs = Date.now(),
  ) {
    this.current = { reachable: true, since: nowMs };
  }

  get state(): CouchReachState {
    return this.current;
  }

  /** A read or a feed request got an answer. */
  answered(nowMs = Date.now()): void {
    if (this.current.reachable) return;
    this.current = { reachable: true, since: nowMs };
    this.onChange(this.current);
  }

  /** A read or a feed request failed: an outage when CouchDB could not be reached (or answered 5xx). */
  failed(err: unknown, nowMs = Date.now()): void {
    if (!(err instanceof UnreachableError) || !this.current.reachable) return;
    this.current = { reachable: false, since: nowMs, reason: redactText(err.message, this.secrets) };
    this.onChange(this.current);
  }
}
