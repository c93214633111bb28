/** Other work's CPU during a run: from the machine's CPU time minus this process's own. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { cpuSnapshot, otherCpu } from '../../src/train/machine-cpu.js';

test('otherCpu: (machine − own) CPU seconds per wall second, never negative, null where unknown', () => {
  const a = { machine: 100, own: 10, at: 0 };
  assert.equal(otherCpu(a, { machine: 104, own: 12, at: 2 }), 1);
  assert.equal(otherCpu(a, { machine: 101, own: 12, at: 2 }), 0, 'a rounding in /proc/stat never reads as negative work');
  assert.equal(otherCpu({ ...a, machine: null }, { machine: 104, own: 12, at: 2 }), null);
  assert.equal(otherCpu(a, { machine: 104, own: 12, at: 0 }), null, 'no wall time');
});

const ownCpus = existsSync('/proc/stat') && readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).length === availableParallelism();

test('a process spinning beside us reads as about one core of other work', { skip: !ownCpus && 'no /proc/stat of this machine\'s own CPUs' }, async () => {
  const child = spawn(process.execPath, ['-e', 'const end = Date.now() + 3000; while (Date.now() < end);']);
  try {
    await new Promise((r) => setTimeout(r, 300)); // let it start spinning
    const from = cpuSnapshot();
    await new Promise((r) => setTimeout(r, 1500));
    const other = otherCpu(from, cpuSnapshot())!;
    // One spinning core (more if the machine has other work too; /proc/stat counts in 10 ms ticks).
    assert.ok(other >= 0.7, `other work: ${other} cores`);
  } finally {
    child.kill();
  }
});
