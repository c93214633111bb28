/** The trainer on a tiny synthetic problem: counts, determinism, and resume = uninterrupted. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TinyCNN, train, type EpochMetrics, type TrainConfig, type TrainEvent } from '../../src/train/index.js';
import { manualSeed } from '../../src/tensor/index.js';
import { synthetic } from './synthetic.js';

const base: TrainConfig = {
  model: 'tiny-cnn', method: 'none', filterRatio: 0, epochs: 3, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 0,
  seed: 11, featureSource: 'cache', solver: 'auto', saveSelections: false,
};

const tmp = (): string => mkdtempSync(join(tmpdir(), 'saln-train-'));

test('each method trains k of B per batch and counts what it computed', async () => {
  const s = synthetic(1, { n: 48 });
  try {
    for (const [method, featureSource] of [['none', 'cache'], ['random', 'cache'], ['saln', 'cache'], ['saln', 'pixels'], ['saln', 'learner'], ['loss-topk', 'cache']] as const) {
      const r = method === 'none' ? 0 : 0.75;
      const res = await train({ config: { ...base, method, featureSource, filterRatio: r, epochs: 1 }, data: s.data });
      const sum = res.summary!;
      const k = method === 'none' ? 16 : 4;
      assert.equal(sum.counts.gradient_samples, 3 * k, `${method}/${featureSource}`);
      assert.equal(sum.counts.optimizer_steps, 3);
      assert.equal(sum.counts.seen_samples, 48);
      assert.equal(sum.counts.scored_samples, method === 'loss-topk' || featureSource === 'learner' && method === 'saln' ? 48 : 0, `${method}/${featureSource} scored`);
      assert.equal(sum.counts.feature_samples, method === 'saln' ? 48 : 0);
      assert.equal(res.metrics[0]!.trained_samples, 3 * k);
      assert.ok(sum.test_accuracy >= 0 && sum.test_accuracy <= 1);
      assert.ok(Number.isFinite(res.metrics[0]!.train_loss));
      for (const p of ['data', 'scoring', 'selection', 'train', 'eval'] as const) assert.ok(sum.phases[p] >= 0);
      res.model.parameters().forEach((p) => p.dispose());
    }
  } finally {
    s.free();
  }
});

test('standard training learns the synthetic task', async () => {
  const s = synthetic(2, { n: 48 });
  try {
    const res = await train({ config: { ...base, epochs: 6, lr: 0.1 }, data: s.data });
    assert.ok(res.summary!.test_accuracy >= 0.8, `test accuracy ${res.summary!.test_accuracy}`);
    assert.ok(res.metrics[5]!.train_loss < res.metrics[0]!.train_loss);
  } finally {
    s.free();
  }
});

test('a filter ratio that keeps 0 samples is refused before any work', async () => {
  const s = synthetic(3, { n: 48 });
  try {
    await assert.rejects(train({ config: { ...base, method: 'random', filterRatio: 0.95 }, data: s.data }), /keeps floor\(16 × \(1 − 0.95\)\) = 0/);
  } finally {
    s.free();
  }
});

test('same seed, same run; a run stopped after epoch 2 and resumed equals the uninterrupted run', async () => {
  const s = synthetic(4, { n: 48 });
  const a = tmp();
  const b = tmp();
  try {
    const cfg: TrainConfig = { ...base, method: 'loss-topk', filterRatio: 0.5, epochs: 4, saveSelections: true };
    const events: TrainEvent[] = [];
    const full = await train({ config: cfg, data: s.data, runDir: a, onEvent: (e) => events.push(e) });
    assert.deepEqual(events.map((e) => e.event), ['start', 'epoch', 'checkpoint', 'epoch', 'checkpoint', 'epoch', 'checkpoint', 'epoch', 'checkpoint', 'end']);
    const part = await train({ config: cfg, data: s.data, runDir: b, stopAfterEpochs: 2 });
    assert.equal(part.summary, null);
    assert.ok(existsSync(join(b, 'checkpoint.safetensors')));
    assert.ok(!existsSync(join(b, 'summary.json')));
    const resumed = await train({ config: cfg, data: s.data, runDir: b, resume: true });
    assert.equal(resumed.summary!.resumed_from_epoch, 2);
    const strip = (m: EpochMetrics) => ({ ...m, seconds: 0, wall_seconds: 0, load_average: 0, other_cpu: 0, cumulative: { ...m.cumulative, wall_seconds: 0 } }); // times are not reproducible
    assert.deepEqual(resumed.metrics.map(strip), full.metrics.map(strip));
    assert.equal(resumed.summary!.test_accuracy, full.summary!.test_accuracy);
    assert.equal(resumed.summary!.test_loss, full.summary!.test_loss);
    assert.deepEqual(resumed.summary!.counts, full.summary!.counts);
    for (const f of ['config.json', 'metrics.jsonl', 'summary.json', 'checkpoint.safetensors', 'selections.jsonl']) assert.ok(existsSync(join(b, f)), f);
    assert.equal(readFileSync(join(b, 'selections.jsonl'), 'utf8'), readFileSync(join(a, 'selections.jsonl'), 'utf8'));
    assert.equal(readFileSync(join(b, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 4);
    const summary = JSON.parse(readFileSync(join(b, 'summary.json'), 'utf8'));
    for (const key of ['test_accuracy', 'best_val_accuracy', 'wall_seconds', 'phases', 'counts']) assert.ok(key in summary, key);
    // A rerun with the same seed is bitwise the same.
    const again = await train({ config: cfg, data: s.data });
    assert.deepEqual(again.metrics.map(strip), full.metrics.map(strip));
  } finally {
    s.free();
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('a linear filter-ratio schedule sets k per epoch', async () => {
  const s = synthetic(5, { n: 48 });
  try {
    const res = await train({ config: { ...base, method: 'random', filterRatio: 0, epochs: 3, schedule: { kind: 'linear', end: 0.75 } }, data: s.data });
    assert.deepEqual(res.metrics.map((m) => m.filter_ratio), [0, 0.375, 0.75]);
    // B = 16: k = 16, floor(16·0.625) = 10, 4; three batches per epoch.
    assert.deepEqual(res.metrics.map((m) => m.trained_samples), [48, 30, 12]);
  } finally {
    s.free();
  }
});

test('jest and rho-loss score with the reference model; without one they are refused', async () => {
  const s = synthetic(6, { n: 48 });
  try {
    manualSeed(99);
    const reference = new TinyCNN(3);
    for (const method of ['jest', 'rho-loss'] as const) {
      await assert.rejects(train({ config: { ...base, method, filterRatio: 0.5, epochs: 1 }, data: s.data }), /needs a reference model/);
      const res = await train({ config: { ...base, method, filterRatio: 0.5, epochs: 1 }, data: s.data, reference });
      assert.equal(res.summary!.counts.reference_samples, 48);
      assert.equal(res.summary!.counts.scored_samples, 48);
      assert.equal(res.summary!.counts.gradient_samples, 24);
    }
  } finally {
    s.free();
  }
});

test('infobatch (in-batch mode) trains fewer samples after the first epoch, and resumes exactly (its state is checkpointed)', async () => {
  const s = synthetic(7, { n: 48 });
  const a = tmp();
  try {
    const cfg: TrainConfig = { ...base, method: 'infobatch', infobatchMode: 'in-batch', filterRatio: 0.5, epochs: 8 };
    const full = await train({ config: cfg, data: s.data });
    assert.equal(full.metrics[0]!.trained_samples, 48);
    assert.ok(full.metrics[1]!.trained_samples < 48 && full.metrics[2]!.trained_samples < 48);
    assert.ok(full.metrics[6]!.trained_samples < 48, 'epoch 7: 6 < 0.875·8, still pruning');
    assert.equal(full.metrics[7]!.trained_samples, 48, 'annealed: epoch 8, index 7 >= 0.875·8');
    assert.equal(full.metrics[1]!.trained_samples, 48 - full.metrics[1]!.selector!.pruned!);
    await train({ config: cfg, data: s.data, runDir: a, stopAfterEpochs: 2 });
    const resumed = await train({ config: cfg, data: s.data, runDir: a, resume: true });
    const strip = (m: EpochMetrics) => ({ ...m, seconds: 0, wall_seconds: 0, load_average: 0, other_cpu: 0, cumulative: { ...m.cumulative, wall_seconds: 0 } }); // times are not reproducible
    assert.deepEqual(resumed.metrics.map(strip), full.metrics.map(strip));
    assert.equal(resumed.summary!.test_loss, full.summary!.test_loss);
  } finally {
    s.free();
    rmSync(a, { recursive: true, force: true });
  }
});
