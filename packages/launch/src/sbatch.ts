/**
 * Submitting pilots as a Slurm array job: render the pilot script, write it to a file, and call
 * `sbatch --parsable --export=ALL` with the pilot's PICAS_* settings in sbatch's environment.
 *
 * Secrets never reach the script or sbatch's command line: `--export` lists variable NAMES only (their
 * values come from sbatch's environment), or, with an env file, everything goes into a 0600 file and
 * only its path (PICAS_ENV_FILE) is passed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { ExternalError, redactText } from '@picas/core';
import { describePilotEnvironment, writeEnvFile, type PilotEnvironment } from './pilot-env.js';
import { renderPilotScript, type PilotScriptOptions } from './pilot-script.js';

export interface SlurmSubmission {
  script: PilotScriptOptions;
  pilot: PilotEnvironment;
  /** write the pilot's settings to this file (mode 0600) and pass only PICAS_ENV_FILE to the job */
  envFile?: string;
  /** the job's working directory (sbatch --chdir); default: the current directory */
  chdir?: string;
  /** the environment sbatch itself runs in, before the pilot's settings are added (default process.env) */
  baseEnv?: Record<string, string | undefined>;
  /** the sbatch program (default `sbatch`) */
  sbatch?: string;
  signal?: AbortSignal;
}

export interface SlurmPlan {
  scriptText: string;
  /** sbatch's arguments, without the script path (it is appended when the script file is written) */
  sbatchArgs: string[];
  /** the variables the job gets from sbatch's environment (names only) */
  exportedNames: string[];
  /** the same, as `NAME=value` lines with secrets masked, for --dry-run */
  exportedDescription: string[];
  envFile?: string;
}

export interface SlurmSubmitResult extends SlurmPlan {
  /** the (array) job id sbatch printed */
  jobId: string;
  cluster?: string;
}

/** What `submitSlurmPilots` would do, without doing it (the --dry-run view). Throws UsageError on bad options. */
export function planSlurmSubmission(sub: SlurmSubmission): SlurmPlan {
  const scriptText = renderPilotScript(sub.script);
  const envFile = sub.envFile ? resolve(sub.envFile) : undefined;
  const exported: PilotEnvironment = envFile ? { env: { PICAS_ENV_FILE: envFile }, secretKeys: [] } : sub.pilot;
  const exportedNames = Object.keys(exported.env);
  // plain ALL: the pilot's settings are in sbatch's environment already. Naming variables (`ALL,A,B`) makes
  // Slurm load the user's login environment on the node first (as --get-user-env does: `su - user`), which
  // runs the site's and the user's profile scripts before every pilot and hangs on a profile that waits
  const sbatchArgs = ['--parsable', '--export=ALL'];
  if (sub.chdir) sbatchArgs.push(`--chdir=${resolve(sub.chdir)}`);
  return { scriptText, sbatchArgs, exportedNames, exportedDescription: describePilotEnvironment(exported), envFile };
}

/** Submits the pilots and returns the array job id. sbatch failures become ExternalError (exit 6). */
export async function submitSlurmPilots(sub: SlurmSubmission): Promise<SlurmSubmitResult> {
  const plan = planSlurmSubmission(sub);
  const secrets = sub.pilot.secretKeys.map((k) => sub.pilot.env[k]).filter((v): v is string => !!v);
  const env: Record<string, string | undefined> = { ...(sub.baseEnv ?? process.env) };
  if (plan.envFile) {
    writeEnvFile(plan.envFile, sub.pilot.env);
    env.PICAS_ENV_FILE = plan.envFile;
  } else {
    Object.assign(env, sub.pilot.env);
  }
  const dir = mkdtempSync(join(tmpdir(), 'picas-slurm-'));
  const scriptPath = join(dir, 'pilot.sh');
  try {
    writeFileSync(scriptPath, plan.scriptText, { mode: 0o700 });
    const program = sub.sbatch ?? 'sbatch';
    let result;
    try {
      // sbatch copies the script when it submits, so the file can go afterwards
      result = await execa(program, [...plan.sbatchArgs, scriptPath], {
        env,
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
        timeout: 120_000,
        cancelSignal: sub.signal,
        forceKillAfterDelay: 5_000,
      });
    } catch (err) {
      throw new ExternalError(`could not run ${program}: ${redactText((err as Error).message, secrets)}`, { cause: err });
    }
    if ((result as { code?: string }).code === 'ENOENT' || (result.failed && result.exitCode === undefined && /ENOENT/.test(String(result.message)))) {
      throw new ExternalError(
        `${program} not found: submit from a machine with Slurm (a login node); for a single-node test cluster run: sudo bash scripts/setup-slurm.sh`,
        { cause: result },
      );
    }
    if (result.failed) {
      const detail = redactText(String(result.stderr || result.stdout || result.message).trim(), secrets);
      const how = result.timedOut ? 'timed out' : result.isCanceled ? 'was cancelled' : `exited ${result.exitCode ?? result.signal}`;
      throw new ExternalError(`sbatch ${how}: ${detail}`, { cause: result });
    }
    const out = String(result.stdout).trim().split('\n').pop() ?? '';
    const m = /^(\d+)(?:;(.+))?$/.exec(out);
    if (!m) throw new ExternalError(`sbatch printed no job id (expected "<id>[;cluster]", got '${redactText(out, secrets)}')`);
    return { ...plan, jobId: m[1]!, cluster: m[2] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
