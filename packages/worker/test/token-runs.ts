// Tokens that record their own run: each appends `id start end PICAS_CPUS OMP_NUM_THREADS [CUDA_VISIBLE_DEVICES]`
// to one file, so a test can check orderings and overlaps from the times the tokens saw, never durations.
import { readFileSync } from 'node:fs';

export interface TokenRun {
  id: string;
  /** epoch seconds */
  start: number;
  end: number;
  cpus: number;
  omp: number;
  gpus: string[];
}

/** A token command that sleeps `seconds` and appends its run to `file`. */
export function recordingCommand(file: string, seconds: number): string {
  return `s=$(date +%s.%N); sleep ${seconds}; echo "$PICAS_TOKEN_ID $s $(date +%s.%N) $PICAS_CPUS $OMP_NUM_THREADS [$CUDA_VISIBLE_DEVICES]" >> ${file}`;
}

export function readTokenRuns(file: string): TokenRun[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [id, start, end, cpus, omp, gpus] = line.split(' ');
      return { id: id!, start: Number(start), end: Number(end), cpus: Number(cpus), omp: Number(omp), gpus: gpus!.slice(1, -1).split(',').filter(Boolean) };
    });
}
