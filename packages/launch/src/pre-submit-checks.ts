/**
 * The checks every launcher makes before it starts pilots (`picas launch local`, `picas slurm submit`,
 * `picas firecrest submit`), written once:
 *   - warnings about the pilots' connection: a loopback CouchDB address for pilots on other machines, and
 *     server-admin credentials (pilot-credentials-check.ts);
 *   - the autopilot (`--only-if-todo`): is there anything a new pilot could claim?
 *   - otherwise: does the database exist and accept our login? (with the token counts where the
 *     launcher shows them), so that 100 pilots do not all fail the same way.
 * Messages go to `note` (stderr in the CLI), prefixed with the launcher's name.
 */
import { isLoopbackUrl, openCouch, redactUrl, type ConnectionConfig, type Couch } from '@picas/core';
import { claimableWork, hasClaimableWork, type ClaimableWork } from '@picas/core/ops/claimable-work';
import { stateCounts, type StateCounts } from '@picas/core/ops/status';
import { adminPilotWarning } from './pilot-credentials-check.js';
import { formatTokenCounts } from './token-count-line.js';

export interface PreSubmitContext {
  connection: ConnectionConfig;
  /** who speaks, e.g. `picas slurm` */
  launcher: string;
  note: (line: string) => void;
}

export interface PilotPlacement {
  /** the machines the pilots run on, for the loopback warning, e.g. `the compute nodes of daint` */
  computeNodes: string;
  /** the pilots may run on this machine (a local Slurm, a FirecREST at a loopback address): no loopback warning */
  mayRunHere?: boolean;
}

/** Warns (never refuses) when the pilots could not reach CouchDB, or would get admin credentials. */
export async function warnAboutPilotConnection(ctx: PreSubmitContext, placement?: PilotPlacement): Promise<void> {
  const { connection, launcher, note } = ctx;
  if (placement && !placement.mayRunHere && isLoopbackUrl(connection.url)) {
    note(
      `${launcher}: warning: the pilots will connect to CouchDB at ${redactUrl(connection.url)}, which is this machine: ` +
        `that works only for pilots that run here; set PICAS_URL to an address ${placement.computeNodes} can reach`,
    );
  }
  const adminWarning = await adminPilotWarning(connection);
  if (adminWarning) note(`${launcher}: ${adminWarning}`);
}

/**
 * The autopilot's test: true when a new pilot would find work (todo, or an expired lease it may reclaim),
 * with a line saying what was found either way.
 */
export async function autopilotFindsWork(ctx: PreSubmitContext, options: { includeExpiredLeases: boolean }): Promise<{ go: boolean; work: ClaimableWork }> {
  const work = await withPool(ctx.connection, (couch) => claimableWork(couch, options));
  if (!hasClaimableWork(work)) {
    ctx.note(`${ctx.launcher}: no tokens waiting in ${ctx.connection.db} (todo 0, no expired leases): nothing submitted`);
    return { go: false, work };
  }
  ctx.note(`${ctx.launcher}: ${work.todo} token${work.todo === 1 ? '' : 's'} in todo${work.expiredLeases ? `, ${work.expiredLeases} expired lease(s)` : ''}: submitting`);
  return { go: true, work };
}

/** Fails (as the CouchDB error) unless the database exists and accepts the login; shows the token counts. */
export async function announceTokenCounts(ctx: PreSubmitContext): Promise<StateCounts> {
  const counts = await withPool(ctx.connection, (couch) => stateCounts(couch));
  ctx.note(`${ctx.launcher}: tokens in ${ctx.connection.db}: ${formatTokenCounts(counts)}`);
  return counts;
}

/** Fails (as the CouchDB error) unless the database exists and accepts the login; needs no views. */
export async function checkDatabaseOpens(connection: ConnectionConfig): Promise<void> {
  await withPool(connection, (couch) => couch.http.expectOk({ path: couch.http.dbPath() }, 'opening database'));
}

async function withPool<T>(connection: ConnectionConfig, fn: (couch: Couch) => Promise<T>): Promise<T> {
  const couch = openCouch(connection, { connections: 1 });
  try {
    return await fn(couch);
  } finally {
    await couch.close();
  }
}

export interface SubmitChecks {
  /** the autopilot: submit only when a new pilot would find work */
  onlyIfTodo?: boolean;
  /** the pilots reclaim expired leases (the worker's default; off with --no-reclaim-expired) */
  reclaimExpired: boolean;
  /** check, then stop before submitting */
  dryRun?: boolean;
  /** where the pilots run, for the loopback warning */
  placement?: PilotPlacement;
}

export type CheckedSubmit<R> = { outcome: 'no-work' } | { outcome: 'dry-run' } | { outcome: 'submitted'; result: R };

/**
 * The launchers' one order: connection warnings, then the autopilot's test (also in a dry run, which then
 * shows what would be submitted), then, without the autopilot, the database check with the token counts,
 * then `submit`.
 */
export async function submitAfterChecks<R>(ctx: PreSubmitContext, checks: SubmitChecks, submit: () => Promise<R>): Promise<CheckedSubmit<R>> {
  await warnAboutPilotConnection(ctx, checks.placement);
  if (checks.onlyIfTodo) {
    const { go } = await autopilotFindsWork(ctx, { includeExpiredLeases: checks.reclaimExpired });
    if (!go) return { outcome: 'no-work' };
  }
  if (checks.dryRun) return { outcome: 'dry-run' };
  if (!checks.onlyIfTodo) await announceTokenCounts(ctx);
  return { outcome: 'submitted', result: await submit() };
}
