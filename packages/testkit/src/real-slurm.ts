/**
 * The gate of tests that need the real Slurm of scripts/setup-slurm.sh: why it cannot be used here (sinfo
 * does not answer, no usable node, the worker not built), the skip message that says how to enable the tests,
 * and PICAS_REQUIRE_SLURM=1 (as in CI), which turns that skip into a failing test. Each test file registers
 * its own jobs, cancelled when the file ends whatever happened. The files that use it take turns (a lock
 * file held from realSlurm() to the file's end): the node has 4 cpus, and one file's pilots of 4 cpus would
 * keep another's waiting in the queue past its time limits.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { processAlive } from '@picas/core';

const TURN_FILE = join(tmpdir(), 'picas-test-real-slurm.turn');

/** Waits for the files before this one to end (or die); returns how to give the turn back. */
async function takeTurn(): Promise<() => void> {
  for (;;) {
    try {
      writeFileSync(TURN_FILE, String(process.pid), { flag: 'wx' });
      return () => rmSync(TURN_FILE, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(TURN_FILE, 'utf8'));
    } catch {
      continue; // given back just now
    }
    if (!holder || !processAlive(holder)) rmSync(TURN_FILE, { force: true });
    else await sleep(500);
  }
}

export interface RealSlurm {
  /** why the tests cannot run here, or undefined */
  unavailable?: string;
  /** for `test(..., { skip })` / `describe(..., { skip })`: false when Slurm is up or required */
  skip: string | false;
  /** a job id this file submitted: cancelled when the file ends */
  track(jobId: string): void;
}

async function whySlurmIsUnavailable(mustExist: readonly string[]): Promise<string | undefined> {
  const sinfo = await execa('sinfo', ['-h', '-N', '-o', '%T'], { reject: false, timeout: 15_000 });
  if (sinfo.failed) return `sinfo failed: ${String(sinfo.stderr || sinfo.shortMessage).trim()}`;
  if (!/idle|mixed|alloc|completing/.test(sinfo.stdout)) return `no usable node (sinfo says '${sinfo.stdout.trim()}')`;
  const missing = mustExist.find((path) => !existsSync(path));
  if (missing) return `${missing} is not built`;
  return undefined;
}

/**
 * Call once at the top of a test file. With PICAS_REQUIRE_SLURM=1 and no Slurm it adds one failing test
 * ('Slurm is available') and lets the others skip; `mustExist` are files the tests need (e.g. the worker).
 */
export async function realSlurm(mustExist: readonly string[] = []): Promise<RealSlurm> {
  const unavailable = await whySlurmIsUnavailable(mustExist);
  if (unavailable && process.env.PICAS_REQUIRE_SLURM === '1') {
    test('Slurm is available (PICAS_REQUIRE_SLURM=1)', () => assert.fail(`Slurm is required here but ${unavailable}; run: sudo bash scripts/setup-slurm.sh`));
  }
  const giveBack = unavailable ? () => undefined : await takeTurn();
  const submitted: string[] = [];
  after(async () => {
    if (submitted.length) await execa('scancel', submitted, { reject: false });
    giveBack();
  });
  return {
    unavailable,
    skip: unavailable ? `Slurm is not available (${unavailable}); enable these tests with: sudo bash scripts/setup-slurm.sh` : false,
    track: (jobId) => void submitted.push(jobId),
  };
}

const FINAL_JOB_STATES = new Set(['COMPLETED', 'CANCELLED', 'FAILED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE']);

/** Task states of a job, e.g. { '12_1': 'COMPLETED', '12_[2-4]': 'PENDING' } (finished jobs stay for MinJobAge). */
export async function slurmTaskStates(jobId: string): Promise<Record<string, string>> {
  const r = await execa('squeue', ['-h', '-t', 'all', '-j', jobId, '-o', '%i %T'], { reject: false });
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const [id, state] = line.trim().split(/\s+/);
    if (id && state) out[id] = state;
  }
  return out;
}

/** Waits until each of an array job's `tasks` tasks has a final state (`CANCELLED by 0` counts); returns them. */
export async function waitForSlurmJobEnd(jobId: string, tasks: number, timeoutMs = 150_000): Promise<Record<string, string>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await slurmTaskStates(jobId);
    const values = Object.entries(states);
    if (values.length === tasks && values.every(([id, s]) => !id.includes('[') && FINAL_JOB_STATES.has(s.split(' ')[0]!))) return states;
    if (Date.now() > deadline) throw new Error(`timed out waiting for Slurm job ${jobId} (${tasks} tasks) to finish: ${JSON.stringify(states)}`);
    await sleep(500);
  }
}
