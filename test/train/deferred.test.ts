/**
 * Deferred inputs: a selector that needs no pixels selects before the batch is augmented, and only
 * the kept rows are augmented. The run is the same as with eager batches, but for time.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DataLoader, EvalTransform, openDataset, prepareSplit, TrainTransform, type PreparedSet } from '../../src/data/index.js';
import { tensor, type Tensor } from '../../src/tensor/index.js';
import { loaderSource, train, type BatchSource, type TrainConfig, type TrainData } from '../../src/train/index.js';
import { tempDir, writeCifarBinary } from '../data/fixtures.js';

/** A train transform that counts the images it augments. */
function counting(inputSize: number): { t: TrainTransform; rows: () => number } {
  const t = new TrainTransform({ inputSize });
  let rows = 0;
  const apply = t.apply.bind(t);
  const applyRows = t.applyRows.bind(t);
  t.apply = (u8, rng): Tensor => ((rows += u8.shape[0]!), apply(u8, rng));
  t.applyRows = (u8, rng, r): Tensor => ((rows += r.length), applyRows(u8, rng, r));
  return { t, rows: () => rows };
}

const tmp = tempDir();
let trainSet: PreparedSet;
let testSet: PreparedSet;
before(async () => {
  writeCifarBinary(tmp, 12); // 60 training images, 12 test
  const src = openDataset('cifar10-bin', tmp);
  trainSet = await prepareSplit(src, 'train', { size: 32, cacheDir: join(tmp, 'cache'), inMemory: true, warn: () => {} });
  testSet = await prepareSplit(src, 'test', { size: 32, cacheDir: join(tmp, 'cache'), inMemory: true, warn: () => {} });
});
after(async () => {
  await trainSet.close();
  await testSet.close();
  rmSync(tmp, { recursive: true, force: true });
});

const base: TrainConfig = {
  model: 'tiny-cnn', method: 'random', filterRatio: 0.75, epochs: 2, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 0,
  seed: 5, featureSource: 'cache', solver: 'auto', saveSelections: false,
};

function data(t: TrainTransform, deferred: boolean): TrainData {
  const src = loaderSource(new DataLoader(trainSet, { batchSize: 16, seed: 2, transform: t }));
  const train: BatchSource = deferred ? src : { ...src, deferredEpoch: undefined };
  const feats = (ids: readonly string[]): Tensor => tensor(ids.map((id) => [...id].slice(-3).map((c) => c.charCodeAt(0) / 64)));
  return {
    train, val: null, numClasses: 10, featureLookup: feats,
    test: loaderSource(new DataLoader(testSet, { batchSize: 16, shuffle: false, transform: new EvalTransform({ inputSize: 16 }) })),
  };
}

for (const method of ['random', 'saln'] as const) {
  test(`${method}: deferred batches augment only the kept rows, and train as eager batches do`, async () => {
    const eagerT = counting(16);
    const lazyT = counting(16);
    const cfg = { ...base, method };
    const eager = await train({ config: cfg, data: data(eagerT.t, false) });
    const lazy = await train({ config: cfg, data: data(lazyT.t, true) });
    // 60 samples in batches of 16, 16, 16, 12: k = 4, 4, 4, 3 per epoch.
    assert.equal(eagerT.rows(), 2 * 60);
    assert.equal(lazyT.rows(), 2 * 15);
    assert.equal(lazy.summary!.counts.gradient_samples, eager.summary!.counts.gradient_samples);
    assert.deepEqual(lazy.metrics.map((m) => m.train_loss), eager.metrics.map((m) => m.train_loss));
    assert.equal(lazy.summary!.test_accuracy, eager.summary!.test_accuracy);
    const w = (r: typeof eager): number[] => r.model.parameters().flatMap((p) => Array.from(p.toTypedArray() as Float32Array));
    assert.deepEqual(w(lazy), w(eager));
  });
}

test('a selector that needs the learner\'s losses gets eager batches: every row is augmented', async () => {
  const { t, rows } = counting(16);
  const res = await train({ config: { ...base, method: 'loss-topk', epochs: 1 }, data: data(t, true) });
  assert.equal(rows(), 60);
  assert.equal(res.summary!.counts.scored_samples, 60);
});
