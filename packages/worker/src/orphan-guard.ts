/**
 * Stops the pilot's running commands if the pilot itself dies without cleaning up (kill -9, the OOM
 * killer). Otherwise a command would go on running, orphaned, while its token's lease expires and
 * another pilot runs the same token. A small detached shell watches the pilot's pid once a second; when
 * the pilot is gone it sends SIGTERM, then SIGKILL after the grace period, to every process group listed
 * in a file the pilot keeps up to date. On a normal exit the pilot stops the guard.
 */
import { writeFileSync } from 'node:fs';
import { execa } from 'execa';

const GUARD_SCRIPT = `
pilot=$1; list=$2; grace=$3
while kill -0 "$pilot" 2>/dev/null; do sleep 1; done
groups=$(cat "$list" 2>/dev/null)
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

export class OrphanGuard {
  private readonly groups = new Set<number>();
  private guard?: ReturnType<typeof execa>;

  constructor(
    private readonly listPath: string,
    private readonly killGraceMs: number,
  ) {}

  start(): void {
    writeFileSync(this.listPath, '');
    const grace = Math.max(1, Math.ceil(this.killGraceMs / 1000));
    this.guard = execa('bash', ['-c', GUARD_SCRIPT, 'picas-orphan-guard', String(process.pid), this.listPath, String(grace)], {
      detached: true,
      stdio: 'ignore',
      reject: false,
      cleanup: false,
    });
    this.guard.unref();
  }

  add(pgid: number): void {
    this.groups.add(pgid);
    this.write();
  }

  remove(pgid: number): void {
    if (this.groups.delete(pgid)) this.write();
  }

  private write(): void {
    try {
      writeFileSync(this.listPath, [...this.groups].join(' '));
    } catch {
      // the work directory is gone: nothing left to guard
    }
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
