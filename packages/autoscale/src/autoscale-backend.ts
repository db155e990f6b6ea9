/**
 * What the controller needs of a way to start pilots: the pool's pilot jobs (named after the pool,
 * including those that finished, as far as the scheduler still knows them), one pilot submitted with a
 * shape, and pending pilots cancelled. It is made from launch's `PilotBackend`s: one that lists and
 * cancels, and one per shape that submits.
 */
import type { Resources } from '@picas/core';
import type { PilotBackend, PilotJob } from '@picas/launch/pilot-backend';

export interface AutoscaleBackend {
  readonly kind: string;
  list(signal?: AbortSignal): Promise<PilotJob[]>;
  /** submits one pilot of this shape; its job id */
  submit(shape: Resources, signal?: AbortSignal): Promise<string>;
  cancel(jobIds: readonly string[], signal?: AbortSignal): Promise<void>;
  /** stops what the backend holds open (a connection; local pilots, which go back to the pool's todo) */
  close(): Promise<void>;
}

export interface BackendParts {
  /** lists (with finished jobs) and cancels the pool's pilots */
  pilots: PilotBackend;
  /** the backend that submits a pilot of this shape (the same one when shapes do not matter) */
  submitterFor: (shape: Resources) => PilotBackend;
  close?: () => Promise<void>;
}

export function autoscaleBackend(parts: BackendParts): AutoscaleBackend {
  return {
    kind: parts.pilots.kind,
    list: (signal) => parts.pilots.list({ all: true, signal }),
    async submit(shape, signal) {
      const { jobIds } = await parts.submitterFor(shape).submit({ count: 1, signal });
      if (jobIds.length !== 1) throw new Error(`${parts.pilots.kind}: one pilot submitted, but ${jobIds.length} job ids came back`);
      return jobIds[0]!;
    },
    async cancel(jobIds, signal) {
      if (jobIds.length > 0) await parts.pilots.cancel({ jobIds, signal });
    },
    close: async () => parts.close?.(),
  };
}
