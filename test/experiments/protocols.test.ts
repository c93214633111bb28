/** Every experiment file shipped in experiments/ parses, and its methods are known. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readExperiment } from '../../src/experiments/config.js';
import { planExperiment } from '../../src/experiments/runner.js';
import { repoRoot } from '../helpers.js';
import { METHODS } from '../../src/train/index.js';

test('experiments/*.yaml parse, and name only known methods', () => {
  const dir = join(repoRoot, 'experiments');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.includes('paper-cifar10.yaml') && files.includes('paper-pets.yaml'));
  for (const f of files) {
    const exp = readExperiment(join(dir, f));
    for (const m of exp.methods) assert.ok((METHODS as readonly string[]).includes(m.method), `${f}: ${m.method}`);
  }
});

test('experiment files that share an output folder agree on every shared cell (same run directory, same configuration)', () => {
  const dir = join(repoRoot, 'experiments');
  const plans = new Map(['p-cifar-ft', 'selection-tournament', 'p-cifar-ft-fp32'].map((n) => [n, planExperiment(readExperiment(join(dir, `${n}.yaml`)))]));
  const grid = plans.get('p-cifar-ft')!;
  const sharedLabels = (name: string): string[] => [...new Set(plans.get(name)!.filter((p) => grid.some((q) => q.runDir === p.runDir)).map((p) => p.label))];
  assert.deepEqual(sharedLabels('selection-tournament'), ['none', 'random-0.8-wall', 'saln-0.8-wall', 'random-super-wall']);
  assert.deepEqual(sharedLabels('p-cifar-ft-fp32'), ['none']);
  for (const [name, cells] of plans) {
    if (name === 'p-cifar-ft') continue;
    for (const p of cells) {
      const q = grid.find((x) => x.runDir === p.runDir);
      if (!q) continue;
      assert.deepEqual([p.label, p.seed, p.waitsFor, p.config], [q.label, q.seed, q.waitsFor, q.config], `${name}: ${p.label}/seed ${p.seed}`);
    }
  }
  // The fp32 check's own runs differ from the grid's only in precision and layout.
  const fp32 = plans.get('p-cifar-ft-fp32')!.find((p) => p.label === 'none-fp32' && p.seed === 0)!.config!;
  const bf16 = grid.find((p) => p.label === 'none' && p.seed === 0)!.config!;
  assert.deepEqual({ ...fp32, out: '', precision: 'auto', memoryFormat: 'auto' }, { ...bf16, out: '' });
});
