/**
 * Stops the pilot's running commands if the pilot itself dies without cleaning up (kill -9, the OOM
 * killer). Otherwise a command would go on running, orphaned, while its token's lease expires and
 * another pilot runs the same token. A small detached shell (its own session: a signal to the pilot's
 * process group or terminal does not reach it) reads a pipe whose only writer is the pilot: the kernel
 * closes it the moment the pilot dies, however it dies, so the guard sees end-of-file at once. (Watching
 * the pid with `kill -0` missed a pilot whose parent does not reap it: a zombie answers `kill -0`.) It then
 * sends SIGTERM, then SIGKILL after the grace period, to every process group still running by the pilot's
 * journal. On a normal exit the pilot stops the guard first.
 *
 * The journal is append-only (`+pgid` when a command starts, `-pgid` when it ends) on a descriptor kept
 * open: one small write per event, where rewriting a whole list file per event cost more than the rest of
 * a short token's bookkeeping. It is compacted (rewritten with only the live groups) once it grows.
 */
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { execa } from 'execa';

const GUARD_SCRIPT = `
list=$1; grace=$2
# stdin is the pipe from the pilot: end-of-file when it is gone
while read -r _; do :; done
declare -A live
while read -r entry; do
  case $entry in
    +*) live[\${entry#+}]=1 ;;
    -*) unset "live[\${entry#-}]" ;;
  esac
done < "$list" 2>/dev/null
groups="\${!live[*]}"
[ -z "$groups" ] && exit 0
for g in $groups; do kill -TERM -- "-$g" 2>/dev/null; done
waited=0
while [ "$waited" -lt "$grace" ]; do
  left=0
  for g in $groups; do kill -0 -- "-$g" 2>/dev/null && left=1; done
  [ "$left" = 0 ] && break
  sleep 1; waited=$((waited + 1))
done
for g in $groups; do kill -KILL -- "-$g" 2>/dev/null; done
rm -f "$list"
`;

/** Journal size (bytes) past which it is rewritten with only the live groups. */
const COMPACT_AT = 64 * 1024;

export class OrphanGuard {
  private readonly groups = new Set<number>();
  private guard?: ReturnType<typeof execa>;
  private fd?: number;
  private written = 0;

  constructor(
    private readonly listPath: string,
    private readonly killGraceMs: number,
  ) {}

  start(): void {
    this.fd = openSync(this.listPath, 'w');
    const grace = Math.max(1, Math.ceil(this.killGraceMs / 1000));
    this.guard = execa('bash', ['-c', GUARD_SCRIPT, 'picas-orphan-guard', this.listPath, String(grace)], {
      detached: true,
      stdin: 'pipe',
      stdout: 'ignore',
      stderr: 'ignore',
      reject: false,
      cleanup: false,
    });
    this.guard.unref();
    // the pipe only has to exist: it must not keep the pilot's event loop alive
    (this.guard.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }

  add(pgid: number): void {
    this.groups.add(pgid);
    this.append(`+${pgid}\n`);
  }

  remove(pgid: number): void {
    if (this.groups.delete(pgid)) this.append(`-${pgid}\n`);
  }

  private append(entry: string): void {
    if (this.fd === undefined) return;
    try {
      if (this.written >= COMPACT_AT) this.compact();
      this.written += writeSync(this.fd, entry);
    } catch {
      // the work directory is gone: nothing left to guard
    }
  }

  /** Rewrites the journal with the live groups only; the rename makes the swap atomic for the guard. */
  private compact(): void {
    const fresh = [...this.groups].map((g) => `+${g}\n`).join('');
    const next = `${this.listPath}.next`;
    writeFileSync(next, fresh);
    renameSync(next, this.listPath);
    closeSync(this.fd!);
    this.fd = openSync(this.listPath, 'a');
    this.written = Buffer.byteLength(fresh);
  }

  private closeJournal(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = undefined;
  }

  /** For an immediate exit (a second signal): the pilot has killed its commands itself. */
  killNow(): void {
    if (!this.guard?.pid) return;
    try {
      process.kill(-this.guard.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }

  async stop(): Promise<void> {
    this.closeJournal();
    const guard = this.guard;
    this.guard = undefined;
    if (!guard) return;
    guard.ref(); // so that its exit is awaited, not skipped by an event loop with nothing else to do
    try {
      // the guard's whole group: the shell and its `sleep`
      process.kill(-guard.pid!, 'SIGKILL');
    } catch {
      guard.kill('SIGKILL');
    }
    await guard;
  }
}
