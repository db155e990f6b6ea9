// What a pilot has: a pure function of its options, its environment and the machine's facts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectPilotResources, parseGpuList, parsePilotResourceFlags, type MachineFacts } from '../src/pilot-resources.js';

const G = 1024 ** 3;
const machine: MachineFacts = { parallelism: 16, totalMem: 64 * G };
const none = { sources: {} };

test('outside Slurm with no options: one core (one token at a time), the machine memory, GPUs from CUDA_VISIBLE_DEVICES', () => {
  const r = detectPilotResources(none, {}, machine);
  assert.deepEqual([r.cpus, r.gpus, r.mem], [1, [], 64 * G]);
  assert.match(r.from.cpus, /^default: one token at a time \(this machine has 16: --cpus auto/);
  assert.equal(r.from.mem, "this machine's memory");
  const cuda = detectPilotResources(none, { CUDA_VISIBLE_DEVICES: '2,3' }, { ...machine, cgroupMem: 8 * G });
  assert.deepEqual([cuda.gpus, cuda.from.gpus, cuda.mem, cuda.from.mem], [['2', '3'], 'CUDA_VISIBLE_DEVICES', 8 * G, 'the cgroup memory limit']);
  assert.equal(detectPilotResources(none, {}, { ...machine, cgroupMem: 2 ** 62 }).mem, 64 * G, 'a v1 "no limit" is ignored');
});

test('inside Slurm: cpus per task, else on node; memory per node, else per cpu (MB); GPUs from CUDA_VISIBLE_DEVICES, else SLURM_JOB_GPUS', () => {
  const slurm = { SLURM_JOB_ID: '42', SLURM_CPUS_ON_NODE: '8', SLURM_CPUS_PER_TASK: '2', SLURM_MEM_PER_NODE: '4096', SLURM_JOB_GPUS: '1,3' };
  const r = detectPilotResources(none, slurm, machine);
  assert.deepEqual([r.cpus, r.mem, r.gpus], [2, 4 * G, ['1', '3']]);
  assert.deepEqual(r.from, { cpus: 'SLURM_CPUS_PER_TASK', mem: 'SLURM_MEM_PER_NODE', gpus: 'SLURM_JOB_GPUS' });
  const perCpu = detectPilotResources(none, { SLURM_JOB_ID: '42', SLURM_CPUS_ON_NODE: '4', SLURM_MEM_PER_CPU: '1024', CUDA_VISIBLE_DEVICES: '0' }, machine);
  assert.deepEqual([perCpu.cpus, perCpu.from.cpus, perCpu.mem, perCpu.gpus], [4, 'SLURM_CPUS_ON_NODE', 4 * G, ['0']]);
  assert.equal(detectPilotResources(none, { SLURM_CPUS_PER_TASK: '4' }, machine).cpus, 1, 'Slurm variables count only inside a job');
});

test('options win over detection; --slots alone gives the cores; --cpus auto takes the machine', () => {
  const parsed = parsePilotResourceFlags({ cpus: '4', gpus: '0,1', mem: '8G', slots: 3 }, { cpus: '--cpus', gpus: 'env PICAS_PILOT_GPUS', mem: '--mem', slots: '--slots' });
  assert.deepEqual(parsed.problems, []);
  const r = detectPilotResources(parsed.flags, { SLURM_JOB_ID: '1', SLURM_CPUS_PER_TASK: '2' }, machine);
  assert.deepEqual([r.cpus, r.gpus, r.mem, r.from.gpus], [4, ['0', '1'], 8 * G, 'env PICAS_PILOT_GPUS']);
  const slots = parsePilotResourceFlags({ slots: 3 }, { slots: '--slots' }).flags;
  assert.equal(detectPilotResources(slots, { SLURM_JOB_ID: '1', SLURM_CPUS_PER_TASK: '2' }, machine).cpus, 3);
  assert.equal(parsePilotResourceFlags({ slots: 1 }, { slots: 'default' }).flags.slots, undefined, 'the default --slots is not a choice');
  const auto = parsePilotResourceFlags({ cpus: 'auto' }, { cpus: '--cpus' }).flags;
  assert.equal(detectPilotResources(auto, {}, machine).cpus, 16);
  const bad = parsePilotResourceFlags({ cpus: '-1', gpus: 'x', mem: '12Q' }, { cpus: '--cpus', gpus: '--gpus', mem: '--mem' });
  assert.equal(bad.problems.length, 3);
  assert.match(bad.problems[2]!, /^--mem \(from --mem\): '12Q' must be bytes/);
});

test('--gpus: a count, or a list with a comma', () => {
  assert.deepEqual(parseGpuList('2'), ['0', '1']);
  assert.deepEqual(parseGpuList('0'), []);
  assert.deepEqual(parseGpuList('3,'), ['3']);
  assert.deepEqual(parseGpuList('0, 2'), ['0', '2']);
  assert.equal(parseGpuList('0,0'), undefined);
  assert.equal(parseGpuList('gpu'), undefined);
});
