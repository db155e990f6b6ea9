/** Running the commands behind the stand-in's jobs: Slurm's tools, signals to a job's process group, its environment. */
import { execFile } from 'node:child_process';

let slurmCheck: Promise<boolean> | undefined;

/** True when a local Slurm answers (`sinfo` lists a usable node). Checked once per process. */
export function standinCanUseSlurm(): Promise<boolean> {
  slurmCheck ??= run('sinfo', ['-h', '-o', '%T'], 5_000).then(
    (r) => r.code === 0 && /idle|mix|alloc|completing/i.test(r.stdout),
    () => false,
  );
  return slurmCheck;
}

/** Runs a command with a time limit; never rejects for a non-zero exit (ENOENT rejects). */
export function run(file: string, args: readonly string[], timeoutMs: number, env?: Record<string, string | undefined>, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, env: env as NodeJS.ProcessEnv | undefined, cwd, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(err);
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 };
  return numbers[signal] ?? 0;
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** A login-shell-like environment: this process' env without picas, FirecREST and Slurm settings. */
export function loginEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('PICAS_') || k.startsWith('FIRECREST_') || k === 'AUTH_TOKEN_URL' || k.startsWith('SLURM_')) continue;
    env[k] = v;
  }
  return env;
}
