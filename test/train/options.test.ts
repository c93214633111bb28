/** The run-option table: the commander options and the zod spec both follow from it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildProgram } from '../../src/cli/main.js';
import { flagOf, optionDefaults, parseRunSpec, SpecError, TRAIN_OPTIONS, type OptionDef } from '../../src/train/index.js';

const options = TRAIN_OPTIONS as readonly OptionDef[];
const trainCmd = () => buildProgram({ out: () => {}, err: () => {} }).commands.find((c) => c.name() === 'train')!;
const base = { dataset: 'cifar10', dataDir: '.', model: 'tiny-cnn', method: 'none', filterRatio: 0, out: 'runs/x' };

test('every table row is a flag of saln train with the row\'s default and choices', () => {
  const byFlag = new Map(trainCmd().options.map((o) => [o.long, o]));
  for (const row of options) {
    const opt = byFlag.get(flagOf(row));
    assert.ok(opt, `${row.key}: no ${flagOf(row)} on saln train`);
    assert.equal(opt.attributeName(), row.flag ?? row.key, row.key);
    if (row.choices) assert.deepEqual(opt.argChoices, [...row.choices], row.key);
    if (row.default !== undefined && !(row.type === 'boolean' && row.default === true)) assert.equal(opt.defaultValue, row.default, row.key);
  }
  // The command's own flags, and nothing else.
  const own = ['--resume', '--overwrite', '--cache-dir', '--json', '--no-progress', '--nproc'];
  assert.deepEqual([...byFlag.keys()].filter((f) => !options.some((r) => flagOf(r) === f)).sort(), own.sort());
});

test('the spec applies the table\'s defaults and checks its bounds, naming the key (or the flag when asked)', () => {
  const spec = parseRunSpec(base);
  for (const [k, v] of Object.entries(optionDefaults())) if (!(k in base)) assert.equal((spec as Record<string, unknown>)[k], v, k);
  assert.equal(spec.evalBatchSize, undefined, 'an option without a default stays unset');
  assert.equal(parseRunSpec({ ...base, evalBatchSize: 64 }).evalBatchSize, 64);
  assert.equal(parseRunSpec({ ...base, method: 'craig', craigWeights: false }).craigWeights, false);
  assert.throws(() => parseRunSpec({ ...base, method: 'random', filterRatio: 0.5, craigWeights: false }), /craigWeights: weights are craig's; method random has none/);
  assert.throws(() => parseRunSpec({ ...base, evalBatchSize: 0 }), (e: unknown) => e instanceof SpecError && e.issues.some((i) => i.key === 'evalBatchSize'));
  assert.throws(() => parseRunSpec({ ...base, threads: 100000 }), /threads: must be an integer from 1 to 256/);
  assert.throws(() => parseRunSpec({ ...base, threads: 100000 }, { format: (k) => `--${k}` }), /--threads: must be an integer from 1 to 256/);
  // Another option named in a message follows the same naming.
  const holdout = { ...base, method: 'jest', filterRatio: 0.5, referenceHoldout: 30, limitTrain: 30 };
  assert.throws(() => parseRunSpec(holdout), /referenceHoldout: must be smaller than limitTrain \(30\)/);
  assert.throws(() => parseRunSpec(holdout, { format: (k) => (k === 'limitTrain' ? '--limit-train' : k) }), /must be smaller than --limit-train \(30\)/);
});

test('an unknown key is not an option: experiment files list the table\'s keys', async () => {
  const { parseExperiment } = await import('../../src/experiments/config.js');
  const text = 'name: x\ndatasets: [{ dataset: cifar10, dataDir: . }]\nmethods: [none]\ntrain: { evalBatchSize: 64, nonsense: 1 }\n';
  assert.throws(() => parseExperiment(text, 'x.yaml'), (e: Error) => /train\.nonsense: unknown option/.test(e.message) && e.message.includes('evalBatchSize'));
});
