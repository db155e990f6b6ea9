/** A submitted job's body (`{job: {...}}`), checked field by field as the real server does: every problem at once, 400. */
import { existsSync, readFileSync } from 'node:fs';
import { HttpFailure } from './replies.js';

export interface JobSpec {
  name: string;
  user: string;
  account?: string;
  partition?: string;
  reservation?: string;
  constraints?: string;
  workingDirectory: string;
  /** the script's text (read from `scriptPath` when that was given) */
  script: string;
  scriptPath?: string;
  standardInput?: string;
  standardOutput?: string;
  standardError?: string;
  env: Record<string, string>;
}

export function parseJobSpec(body: unknown, user: string): JobSpec {
  const job = (body as { job?: unknown })?.job;
  if (!job || typeof job !== 'object' || Array.isArray(job)) throw new HttpFailure(400, 'job: Field required', 'validation');
  const j = job as Record<string, unknown>;
  const problems: string[] = [];
  const wd = j.workingDirectory ?? j.working_directory;
  if (typeof wd !== 'string' || wd === '') problems.push('workingDirectory: Field required');
  else if (!wd.startsWith('/')) problems.push(`workingDirectory: '${wd}' must be an absolute path`);
  const hasScript = typeof j.script === 'string' && j.script !== '';
  const hasPath = typeof j.scriptPath === 'string' && j.scriptPath !== '';
  if (hasScript === hasPath) problems.push('exactly one of script or scriptPath must be given');
  if (hasPath && !(j.scriptPath as string).startsWith('/')) problems.push(`scriptPath: '${String(j.scriptPath)}' must be an absolute path`);
  const env: Record<string, string> = {};
  if (j.env !== undefined && j.env !== null) {
    if (typeof j.env !== 'object' || Array.isArray(j.env)) problems.push('env: must be an object of strings');
    else
      for (const [k, v] of Object.entries(j.env)) {
        if (typeof v !== 'string') problems.push(`env.${k}: must be a string`);
        else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) problems.push(`env: '${k}' is not a variable name`);
        else env[k] = v;
      }
  }
  for (const field of ['name', 'account', 'partition', 'reservation', 'standardInput', 'standardOutput', 'standardError', 'constraints']) {
    if (j[field] !== undefined && j[field] !== null && typeof j[field] !== 'string') problems.push(`${field}: must be a string`);
  }
  if (problems.length > 0) throw new HttpFailure(400, problems.join('; '), 'validation', null, problems);
  let script = j.script as string | undefined;
  if (hasPath) {
    const path = j.scriptPath as string;
    if (!existsSync(path)) throw new HttpFailure(400, `scriptPath: ${path}: No such file or directory`, 'validation');
    script = readFileSync(path, 'utf8');
  }
  return {
    name: (j.name as string | undefined) ?? '',
    user,
    account: j.account as string | undefined,
    partition: j.partition as string | undefined,
    reservation: j.reservation as string | undefined,
    constraints: j.constraints as string | undefined,
    workingDirectory: wd as string,
    script: script!,
    scriptPath: hasPath ? (j.scriptPath as string) : undefined,
    standardInput: j.standardInput as string | undefined,
    standardOutput: j.standardOutput as string | undefined,
    standardError: j.standardError as string | undefined,
    env,
  };
}
