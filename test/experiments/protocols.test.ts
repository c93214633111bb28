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

test('the selection tournament shares none, random-0.8-wall and saln-0.8-wall with P-CIFAR-FT: same run directories, same configurations', () => {
  const dir = join(repoRoot, 'experiments');
  const grid = planExperiment(readExperiment(join(dir, 'p-cifar-ft.yaml')));
  const tournament = planExperiment(readExperiment(join(dir, 'selection-tournament.yaml')));
  const shared = tournament.filter((p) => grid.some((q) => q.runDir === p.runDir));
  assert.deepEqual([...new Set(shared.map((p) => p.label))], ['none', 'random-0.8-wall', 'saln-0.8-wall']);
  assert.equal(shared.length, 15);
  for (const p of shared) {
    const q = grid.find((x) => x.runDir === p.runDir)!;
    assert.deepEqual([p.label, p.seed, p.waitsFor], [q.label, q.seed, q.waitsFor]);
    assert.deepEqual(p.config, q.config, `${p.label}/seed ${p.seed}`);
  }
  // The candidates have run directories of their own.
  assert.deepEqual([...new Set(tournament.filter((p) => !shared.includes(p)).map((p) => p.label))], ['craig-gradient-0.8-wall', 'random-balanced-0.8-wall']);
});
