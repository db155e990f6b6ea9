import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withMachineShare } from '../src/machine-share.js';

test('picas launch local splits the machine: each pilot gets its share of the cores, unless --cpus or --slots says', () => {
  assert.deepEqual(withMachineShare({}, 4, 16), { cpus: '4' });
  assert.deepEqual(withMachineShare({}, 3, 2), { cpus: '1' }, 'at least one core each');
  assert.deepEqual(withMachineShare({ slots: 2 }, 4, 16), { slots: 2 });
  assert.deepEqual(withMachineShare({ cpus: '3' }, 4, 16), { cpus: '3' });
});
