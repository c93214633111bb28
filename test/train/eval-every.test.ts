/** Validation every N gradient samples: where the points fall, training unchanged, time kept out of the wall clock, resume. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Dropout } from '../../src/nn/index.js';
import { manualSeed, type Tensor } from '../../src/tensor/index.js';
import { crossesMultiple, TinyCNN, train, type BatchSource, type EpochMetrics, type Learner, type TrainConfig } from '../../src/train/index.js';
import { synthetic } from './synthetic.js';

// 48 training samples in batches of 16: 3 steps and 48 gradient samples per epoch.
const base: TrainConfig = {
  model: 'tiny-cnn', method: 'none', filterRatio: 0, epochs: 2, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 0,
  seed: 21, featureSource: 'cache', solver: 'auto', saveSelections: false,
};

const freeModel = (m: Learner): void => m.parameters().forEach((p) => p.dispose());
const at = (metrics: EpochMetrics[]): number[][] => metrics.map((m) => (m.val_points ?? []).map((p) => p.gradient_samples));
/** Metrics without what differs between runs of the same training: times, and the mid-epoch points. */
const stripTimes = (m: EpochMetrics) => ({ ...m, seconds: 0, wall_seconds: 0, load_average: 0, other_cpu: 0, cumulative: { ...m.cumulative, wall_seconds: 0 }, val_points: (m.val_points ?? []).map((p) => ({ ...p, wall_seconds: 0 })) });
const training = (m: EpochMetrics) => {
  const { val_points: _, ...rest } = stripTimes(m);
  return rest;
};

test('crossesMultiple: a step that passes several multiples counts once; landing on one counts', () => {
  assert.equal(crossesMultiple(0, 16, 5), true);
  assert.equal(crossesMultiple(16, 19, 5), false);
  assert.equal(crossesMultiple(19, 20, 5), true);
  assert.equal(crossesMultiple(20, 24, 5), false);
});

test('--eval-every: points where the gradient samples reach a multiple of N inside epochs, in order of samples and wall time', async () => {
  const s = synthetic(31, { n: 48 });
  try {
    // N = 2 × B: 32 (epoch 1, step 2), 64 (epoch 2, step 1); 96 is epoch 2's last step: its own validation.
    const two = await train({ config: { ...base, evalEvery: 32 }, data: s.data });
    assert.deepEqual(at(two.metrics), [[32], [64]]);
    // N = 24: 48 is epoch 1's end; 64 does not reach 72; 80 does.
    const odd = await train({ config: { ...base, evalEvery: 24 }, data: s.data });
    assert.deepEqual(at(odd.metrics), [[32], [80]]);
    // N = 5 < B: every step passes a multiple (several at once): one point per step but the last.
    const small = await train({ config: { ...base, evalEvery: 5 }, data: s.data });
    assert.deepEqual(at(small.metrics), [[16, 32], [64, 80]]);
    // Wall seconds never go back: the points, then the epoch end, then the next epoch's points.
    const walls = small.metrics.flatMap((m) => [...m.val_points!.map((p) => p.wall_seconds), m.cumulative.wall_seconds]);
    for (let i = 1; i < walls.length; i++) assert.ok(walls[i]! >= walls[i - 1]!, `wall seconds ${walls.join(', ')}`);
    // A point is the validation of the model at that step: a run a budget stops at 32 samples validates the same model.
    const stopped = await train({ config: { ...base, budget: { gradientSamples: 32 } }, data: s.data });
    const p = two.metrics[0]!.val_points![0]!;
    assert.equal(stopped.metrics[0]!.partial, true);
    assert.deepEqual([p.val_loss, p.val_accuracy], [stopped.metrics[0]!.val_loss, stopped.metrics[0]!.val_accuracy]);
    for (const r of [two, odd, small, stopped]) freeModel(r.model);
  } finally {
    s.free();
  }
});

/** TinyCNN with dropout before the head: training draws from the engine's generator every step. */
class DropoutCNN extends TinyCNN {
  readonly drop = this.registerModule('drop', new Dropout(0.5));
  override forward(x: Tensor): Tensor {
    return this.fc.forward(this.drop.forward(this.forwardFeatures(x)));
  }
}

test('training is the same with and without --eval-every: losses, final weights, test accuracy (with dropout drawing from the engine)', async () => {
  const s = synthetic(32, { n: 48 });
  const learner = (): Learner => {
    manualSeed(base.seed);
    return new DropoutCNN(3);
  };
  try {
    const cfg: TrainConfig = { ...base, epochs: 3 };
    const plain = await train({ config: cfg, data: s.data, learner: learner() });
    const often = await train({ config: { ...cfg, evalEvery: 8 }, data: s.data, learner: learner() });
    assert.deepEqual(at(often.metrics), [[16, 32], [64, 80], [112, 128]]);
    assert.deepEqual(often.metrics.map(training), plain.metrics.map(training));
    for (const k of ['test_accuracy', 'test_loss', 'best_val_accuracy', 'final_val_accuracy', 'counts', 'epochs_done', 'stopped_by'] as const) {
      assert.deepEqual(often.summary![k], plain.summary![k], k);
    }
    const a = plain.model.stateDict();
    const b = often.model.stateDict();
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [k, t] of a) assert.deepEqual(b.get(k)!.toArray(), t.toArray(), k);
    // The dropout matters: another engine seed gives other losses (so equality above is not vacuous).
    manualSeed(base.seed);
    const other = await train({ config: { ...cfg, seed: base.seed + 1 }, data: s.data, learner: new DropoutCNN(3) });
    assert.notDeepEqual(other.metrics.map((m) => m.train_loss), plain.metrics.map((m) => m.train_loss));
    for (const r of [plain, often, other]) freeModel(r.model);
  } finally {
    s.free();
  }
});

/** The validation source, with a clock that only validation batches move (1 s each). */
function clocked(src: BatchSource, clock: { ms: number }): BatchSource {
  return {
    samples: src.samples, batches: src.batches, batchSize: src.batchSize,
    async *epoch(e: number) {
      for await (const b of src.epoch(e)) {
        clock.ms += 1000;
        yield b;
      }
    },
  };
}

test('mid-epoch validation time counts as eval, not in the run\'s or the epoch\'s wall seconds, nor in a wall-time budget', async () => {
  const s = synthetic(33, { n: 48 });
  const clock = { ms: 0 };
  const realNow = performance.now.bind(performance);
  performance.now = () => clock.ms;
  try {
    // The validation split is one batch: each validation takes 1 s of this clock, everything else none.
    const data = { ...s.data, val: clocked(s.data.val!, clock) };
    const plain = await train({ config: base, data });
    const often = await train({ config: { ...base, evalEvery: 16 }, data });
    assert.deepEqual(at(often.metrics), [[16, 32], [64, 80]]);
    // The wall clock sees only the epoch-end validations (1 s per epoch), with or without the points.
    for (const r of [plain, often]) {
      assert.deepEqual(r.metrics.map((m) => m.cumulative.wall_seconds), [1, 2]);
      assert.deepEqual(r.metrics.map((m) => m.wall_seconds), [1, 1]);
      assert.equal(r.summary!.wall_seconds, 2);
    }
    // Each point is at the run's wall clock of its step: epoch 1's before any validation, epoch 2's after epoch 1's.
    assert.deepEqual(often.metrics.map((m) => m.val_points!.map((p) => p.wall_seconds)), [[0, 0], [1, 1]]);
    // The eval phase has every validation: 2 points + the epoch end per epoch.
    assert.deepEqual(often.metrics.map((m) => m.seconds.eval), [3, 3]);
    assert.equal(often.summary!.phases.eval, 6);
    assert.equal(plain.summary!.phases.eval, 2);
    // A 1.5 s budget is reached by neither: the 4 s of points do not count.
    const budget = await train({ config: { ...base, evalEvery: 16, budget: { seconds: 1.5 } }, data });
    assert.equal(budget.summary!.stopped_by, 'epochs');
    assert.equal(budget.summary!.counts.optimizer_steps, 6);
    for (const r of [plain, often, budget]) freeModel(r.model);
  } finally {
    performance.now = realNow;
    s.free();
  }
});

test('a run stopped after epoch 1 and resumed has the uninterrupted run\'s points; metrics.jsonl carries them', async () => {
  const s = synthetic(34, { n: 48 });
  const a = mkdtempSync(join(tmpdir(), 'saln-eval-every-'));
  const b = mkdtempSync(join(tmpdir(), 'saln-eval-every-'));
  try {
    const cfg: TrainConfig = { ...base, method: 'random', filterRatio: 0.5, epochs: 3, evalEvery: 12 };
    const full = await train({ config: cfg, data: s.data, runDir: a });
    // k = 8 per step: 12, 24 reached at 16 and 24 (epoch 1's last step: skipped); 36 at 40; 48 at 48 (last); 60 at 64, 72 at 72 (last).
    assert.deepEqual(at(full.metrics), [[16], [40], [64]]);
    const part = await train({ config: cfg, data: s.data, runDir: b, stopAfterEpochs: 1 });
    freeModel(part.model);
    const resumed = await train({ config: cfg, data: s.data, runDir: b, resume: true });
    assert.equal(resumed.summary!.resumed_from_epoch, 1);
    assert.deepEqual(resumed.metrics.map(stripTimes), full.metrics.map(stripTimes));
    assert.equal(resumed.summary!.test_loss, full.summary!.test_loss);
    const lines = readFileSync(join(b, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EpochMetrics);
    assert.deepEqual(at(lines), [[16], [40], [64]]);
    assert.deepEqual(lines.map(stripTimes), full.metrics.map(stripTimes));
    for (const r of [full, resumed]) freeModel(r.model);
  } finally {
    s.free();
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('--eval-every needs a validation split and an integer >= 1; without it there are no points', async () => {
  const s = synthetic(35, { n: 48, val: false });
  try {
    await assert.rejects(train({ config: { ...base, evalEvery: 16 }, data: s.data }), /evalEvery: .*needs a validation split/);
    await assert.rejects(train({ config: { ...base, evalEvery: 0 }, data: s.data }), /evalEvery: expected an integer >= 1, got 0/);
    const res = await train({ config: { ...base, epochs: 1 }, data: s.data });
    assert.equal(res.metrics[0]!.val_points, undefined);
    freeModel(res.model);
  } finally {
    s.free();
  }
});
