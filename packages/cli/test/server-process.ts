/** Starts `picas server` as a real process for tests, and waits until it says where it listens. */
import { createInterface } from 'node:readline';
import { after } from 'node:test';
import { runCli } from '@picas/testkit';

export interface ServerProcess {
  proc: ReturnType<typeof runCli>;
  url: string;
  fauxtonUrl: string;
  /** everything it printed so far */
  output: () => string;
  /** SIGTERM, then SIGKILL after a grace period; resolves with the exit result */
  stop: (signal?: NodeJS.Signals) => Promise<Awaited<ReturnType<typeof runCli>>>;
}

export async function startServerProcess(args: readonly string[], options: { cwd: string; env?: Record<string, string> }): Promise<ServerProcess> {
  const proc = runCli(['server', ...args], { cwd: options.cwd, env: options.env ?? {}, timeout: 0, forceKillAfterDelay: 5000 });
  let text = '';
  proc.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const lines = createInterface({ input: proc.stdout! });
  const ready = new Promise<{ url: string; fauxtonUrl: string }>((resolve, reject) => {
    let url = '';
    lines.on('line', (line) => {
      text += line + '\n';
      const listening = /listening on (http:\/\/\S+)/.exec(line);
      if (listening) url = listening[1]!;
      const fauxton = /^Fauxton: (\S+)/.exec(line);
      if (fauxton && url) resolve({ url, fauxtonUrl: fauxton[1]! });
    });
    void proc.then((r) => reject(new Error(`picas server exited before it was ready (exit ${r.exitCode}):\n${text}`)));
    setTimeout(() => reject(new Error(`picas server did not start within 30 s:\n${text}`)), 30_000).unref();
  });
  let stopped = false;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    stopped = true;
    proc.kill(signal);
    return await proc;
  };
  after(async () => {
    if (!stopped) await stop();
  });
  const { url, fauxtonUrl } = await ready;
  return { proc, url, fauxtonUrl, output: () => text, stop };
}
