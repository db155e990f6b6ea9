/** Stopping a child the bench started: SIGTERM, then SIGKILL after 5 s. */
import type { ChildProcess } from 'node:child_process';

export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}
