/** Reading Slurm's text: `#SBATCH` directives, times, dates and `scontrol show job -o` lines. */

/** `#SBATCH --output=…` style directives of a script (long names; -o, -e and -J too). */
export function sbatchDirectives(script: string): Map<string, string> {
  const short: Record<string, string> = { o: 'output', e: 'error', J: 'job-name', t: 'time', p: 'partition', A: 'account' };
  const out = new Map<string, string>();
  for (const line of script.split('\n')) {
    const long = /^#SBATCH\s+--([a-z-]+)(?:=|\s+)(\S+)/.exec(line);
    if (long) out.set(long[1]!, long[2]!);
    const brief = /^#SBATCH\s+-([a-zA-Z])\s*(\S+)/.exec(line);
    if (brief && short[brief[1]!]) out.set(short[brief[1]!]!, brief[2]!);
  }
  return out;
}

/** Slurm times (`MM`, `MM:SS`, `HH:MM:SS`, `D-HH[:MM[:SS]]`) in seconds; UNLIMITED and unknowns are undefined. */
export function slurmTimeSeconds(text: string | undefined): number | undefined {
  if (!text || !/^[\d:-]+$/.test(text)) return undefined;
  const [daysPart, rest] = text.includes('-') ? text.split('-') : [undefined, text];
  const days = daysPart ? Number(daysPart) : 0;
  const nums = (rest ?? '').split(':').map(Number);
  let h = 0, m = 0, s = 0;
  if (daysPart !== undefined) [h = 0, m = 0, s = 0] = nums;
  else if (nums.length === 1) [m = 0] = nums;
  else if (nums.length === 2) [m = 0, s = 0] = nums;
  else [h = 0, m = 0, s = 0] = nums;
  const total = ((days * 24 + h) * 60 + m) * 60 + s;
  return Number.isFinite(total) ? total : undefined;
}

export function slurmDate(text: string | undefined): number | undefined {
  if (!text || !/^\d{4}-\d\d-\d\dT/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** `scontrol show job -o` prints one line of Key=Value pairs. */
export function scontrolFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.trim().split(/\s+/)) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq)] ??= pair.slice(eq + 1);
  }
  return out;
}
