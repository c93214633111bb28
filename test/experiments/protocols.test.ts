/** Every experiment file shipped in experiments/ parses, and its methods are known. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readExperiment } from '../../src/experiments/config.js';
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
