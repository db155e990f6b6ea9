/**
 * Pilot records must not slow the claim path: 16 pilots with their records (the default) against 16 with
 * `--no-pilot-record`, the runs interleaved (with, without, with, without) so that drift on a shared
 * machine hits both sides alike. The target: with records >= 0.95 x without.
 */
export interface PilotRecordRun {
  tokensPerSec: number;
}

export interface PilotRecordComparison {
  withRecords: number;
  withoutRecords: number;
  ratio: number;
  rounds: number;
}

/** `run(name, workerArgs)` runs one end-to-end round with 16 pilots (main.ts's endToEnd). */
export async function comparePilotRecords(run: (name: string, workerArgs: string[]) => Promise<PilotRecordRun>, rounds: number, progress: (line: string) => void = () => {}): Promise<PilotRecordComparison> {
  let withRecords = 0;
  let withoutRecords = 0;
  for (let i = 0; i < rounds; i++) {
    const on = await run(`16 workers, pilot records (round ${i + 1})`, []);
    const off = await run(`16 workers --no-pilot-record (round ${i + 1})`, ['--no-pilot-record']);
    progress(`   pilot records round ${i + 1}: ${on.tokensPerSec.toFixed(1)} vs ${off.tokensPerSec.toFixed(1)} tokens/s without`);
    withRecords += on.tokensPerSec;
    withoutRecords += off.tokensPerSec;
  }
  return { withRecords: withRecords / rounds, withoutRecords: withoutRecords / rounds, ratio: withRecords / withoutRecords, rounds };
}
