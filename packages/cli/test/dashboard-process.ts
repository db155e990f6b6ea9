/** Starts `picas dashboard` as a real process for tests, and waits until it prints its address. */
import { createInterface } from 'node:readline';
import { after } from 'node:test';
import { runCli } from '@picas/testkit';

export interface DashboardProcess {
  proc: ReturnType<typeof runCli>;
  /** the address it printed (with ?token= when bound to a non-loopback address) */
  url: string;
  output: () => string;
  stop: () => Promise<Awaited<ReturnType<typeof runCli>>>;
}

export async function startDashboardProcess(args: readonly string[], env: Record<string, string>): Promise<DashboardProcess> {
  const proc = runCli(['dashboard', '--port', '0', ...args], { env, timeout: 0, forceKillAfterDelay: 5000 });
  let text = '';
  proc.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const lines = createInterface({ input: proc.stdout! });
  const ready = new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      text += line + '\n';
      const m = /^picas dashboard: (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    void proc.then((r) => reject(new Error(`picas dashboard exited before it was ready (exit ${r.exitCode}):\n${text}`)));
    setTimeout(() => reject(new Error(`picas dashboard did not start within 30 s:\n${text}`)), 30_000).unref();
  });
  let stopped: Promise<Awaited<ReturnType<typeof runCli>>> | undefined;
  const stop = () => {
    if (!stopped) {
      proc.kill('SIGTERM');
      stopped = Promise.resolve(proc);
    }
    return stopped;
  };
  after(async () => {
    await stop();
  });
  return { proc, url: await ready, output: () => text, stop };
}
