/**
 * The controller's state document (`picas-autoscaler`, core's autoscaler-doc.ts) in the pool database,
 * and the lease that makes one controller per pool:
 * - `acquire` takes the lease, or refuses (LeaseHeldError, one line) while another controller's lives;
 *   once it has run out, it takes over, keeping the pilots and counters the last one left.
 * - `save` writes a cycle's state with the `_rev` it was read at. A 409 means someone else wrote in
 *   between: `picas autoscale pause`/`resume` (their `paused` and counters are kept), or another
 *   controller that took over (LeaseLostError). On a cluster every write asks all replicas (`w` = n, as a
 *   claim does), so a 201 is a win; a 202 is not: the document is read back, and only if the winning
 *   revision is ours, with no new conflicting one beside it, did the write happen.
 * - Two controllers whose writes both reached some replicas (202s) leave the document with two branches;
 *   every controller reads the winning one, so the one whose branch lost stops at its next read, and the
 *   one holding the lease deletes the losing branches (`dropConflicts`), so that a later 202 is not taken
 *   for a race it did not lose.
 * - `update` is the read-modify-write of the pause and resume commands, which hold no lease.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { AUTOSCALER_DOC_ID, AUTOSCALER_TYPE, ConflictError, isAutoscalerDoc, type AutoscalerDoc, type CouchHttp } from '@picas/core';
import { claimWriteQuorum, readReplicas } from '@picas/core/ops/replicas';

export class LeaseHeldError extends ConflictError {}
export class LeaseLostError extends ConflictError {}

/** The state as read: the winning revision, and the revisions of its other branches when a cluster left some. */
export type StoredState = AutoscalerDoc & { _conflicts?: string[] };

const WRITE_ATTEMPTS = 8;

/** `<hostname>:<pid>:<random>`, who holds a lease. */
export function newOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** The lease a controller that runs a cycle every `intervalS` takes: three cycles, at least 10 s more than one. */
export function leaseSecondsFor(intervalS: number): number {
  return Math.max(3 * intervalS, intervalS + 10);
}

export function emptyState(owner: string, backend: string, nowS: number): AutoscalerDoc {
  return { _id: AUTOSCALER_DOC_ID, type: AUTOSCALER_TYPE, owner, lease_until: nowS, heartbeat: nowS, backend, settings: {}, pilots: [], failures: { submit_in_row: 0, failed_starts_in_row: 0 } };
}

export class StateStore {
  private writeQuorum?: Promise<number | undefined>;

  constructor(
    private readonly http: CouchHttp,
    readonly owner: string,
  ) {}

  /** The winning revision, with the other leaves (`_conflicts`) when there are any. */
  async read(signal?: AbortSignal): Promise<StoredState | undefined> {
    const res = await this.http.request<unknown>({ path: this.http.docPath(AUTOSCALER_DOC_ID), query: { conflicts: true }, signal });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.http.errorFor(res, 'reading the autoscaler state');
    if (!isAutoscalerDoc(res.body)) throw new ConflictError(`document ${AUTOSCALER_DOC_ID} in ${this.http.db} is not an autoscaler state; delete or rename it`);
    return res.body;
  }

  /** Throws LeaseHeldError while another controller's lease lives (before anything else is set up). */
  async refuseIfHeld(nowS: number, signal?: AbortSignal): Promise<void> {
    const current = await this.read(signal);
    if (current && current.owner !== this.owner && current.lease_until > nowS) throw heldBy(current, this.http.db, nowS);
  }

  /** Takes the lease for `leaseS`, or throws LeaseHeldError while another controller's lease lives. */
  async acquire(init: { backend: string; settings: Record<string, unknown>; leaseS: number; nowS: number; signal?: AbortSignal }): Promise<AutoscalerDoc> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const current = await this.read(init.signal);
      if (current && current.owner !== this.owner && current.lease_until > init.nowS) throw heldBy(current, this.http.db, init.nowS);
      const next: AutoscalerDoc = { ...(current ?? emptyState(this.owner, init.backend, init.nowS)), owner: this.owner, lease_until: init.nowS + init.leaseS, heartbeat: init.nowS, backend: init.backend, settings: init.settings };
      const written = await this.write(next, init.signal);
      if (written) {
        await this.dropConflicts(current, init.signal);
        return written;
      }
    }
    throw new ConflictError(`could not take the autoscaler lease on ${this.http.db}: the state document keeps changing`);
  }

  /**
   * Writes `next` (read at `next._rev`). On a conflict, `merge(latest)` makes the document to try again
   * from the latest one, unless another controller holds the lease now (LeaseLostError).
   */
  async save(next: AutoscalerDoc, merge: (latest: AutoscalerDoc) => AutoscalerDoc, signal?: AbortSignal): Promise<AutoscalerDoc> {
    let candidate = next;
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const written = await this.write(candidate, signal);
      if (written) return written;
      const latest = await this.read(signal);
      if (!latest) throw new LeaseLostError(`the autoscaler state of ${this.http.db} was deleted while this controller ran`);
      if (latest.owner !== this.owner) throw new LeaseLostError(`another controller (${latest.owner}) took over pool ${this.http.db}; this one stops`);
      candidate = merge(latest);
    }
    throw new ConflictError(`could not save the autoscaler state of ${this.http.db}: it keeps changing`);
  }

  /** Read-modify-write without a lease (pause, resume); `change` returns undefined to write nothing. */
  async update(change: (current: AutoscalerDoc) => AutoscalerDoc | undefined, signal?: AbortSignal): Promise<AutoscalerDoc | undefined> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const current = await this.read(signal);
      if (!current) return undefined;
      const next = change(current);
      if (!next) return current;
      const written = await this.write(next, signal);
      if (written) return written;
    }
    throw new ConflictError(`could not change the autoscaler state of ${this.http.db}: it keeps changing`);
  }

  /**
   * Deletes the losing branches of the state document (`doc._conflicts`, from `read`): left by two writes
   * that each reached only some replicas of a cluster. Only the lease holder calls it. Best effort: a
   * branch not deleted now is deleted at the next cycle.
   */
  async dropConflicts(doc: StoredState | undefined, signal?: AbortSignal): Promise<number> {
    let dropped = 0;
    for (const rev of doc?._conflicts ?? []) {
      const res = await this.http.request({ method: 'DELETE', path: this.http.docPath(AUTOSCALER_DOC_ID), query: { rev, w: await this.quorum(signal) }, signal }).catch(() => undefined);
      if (res && (res.status === 200 || res.status === 202)) dropped++;
    }
    return dropped;
  }

  /** Gives the lease up (lease_until = now), so that the next controller need not wait for it. */
  async release(doc: AutoscalerDoc, nowS: number, signal?: AbortSignal): Promise<void> {
    await this.save({ ...doc, lease_until: nowS }, (latest) => ({ ...latest, pilots: doc.pilots, lease_until: nowS }), signal).catch(() => undefined);
  }

  /**
   * One PUT at the document's `_rev`. The written document on a win; undefined on a conflict (409), or
   * when a 202 turns out to have lost (another revision won).
   */
  private async write(doc: AutoscalerDoc | StoredState, signal?: AbortSignal): Promise<AutoscalerDoc | undefined> {
    // the leaves known when `doc` was read are not written (CouchDB refuses a `_conflicts` member)
    const { _conflicts: known = [], ...body } = doc as StoredState;
    const w = await this.quorum(signal);
    const res = await this.http.request<{ rev?: string }>({ method: 'PUT', path: this.http.docPath(AUTOSCALER_DOC_ID), body, query: { w }, signal });
    if (res.status === 409) return undefined;
    if (res.status !== 201 && res.status !== 202) throw this.http.errorFor(res, 'writing the autoscaler state');
    const rev = res.body.rev!;
    if (res.status === 202) {
      // accepted by fewer nodes than the quorum: another write may win; only the winner's revision counts,
      // and a leaf that was not there before is a competing write
      const back = await this.http.request<StoredState>({ path: this.http.docPath(AUTOSCALER_DOC_ID), query: { conflicts: true }, signal });
      if (back.status !== 200 || back.body._rev !== rev || (back.body._conflicts ?? []).some((leaf) => !known.includes(leaf))) return undefined;
    }
    return { ...body, _rev: rev };
  }

  /** `w` for the state's writes: on a cluster every replica (as a claim asks), so that a 201 is a win. */
  private quorum(signal?: AbortSignal): Promise<number | undefined> {
    this.writeQuorum ??= readReplicas(this.http, { signal }).then((r) => claimWriteQuorum(r, 'all'));
    return this.writeQuorum;
  }
}

function heldBy(doc: AutoscalerDoc, db: string, nowS: number): LeaseHeldError {
  const left = Math.ceil(doc.lease_until - nowS);
  return new LeaseHeldError(`another controller (${doc.owner}) runs on pool ${db}; its lease ends in ${left} s unless it renews it (stop it first, or start this one after it)`);
}
