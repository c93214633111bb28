/** Super-batch mode, cost accounting, budgets, lr scaling, selection examples and the device check. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { cudaDeviceCount, manualSeed, type Tensor } from '../../src/tensor/index.js';
import { drawnBatchSize, keepFor, RUN_FILES, TinyCNN, train, type EpochMetrics, type Method, type TrainConfig } from '../../src/train/index.js';

const EXAMPLES_FILE = RUN_FILES.examples;
import { assertClose } from '../helpers.js';
import { synthetic } from './synthetic.js';

const base: TrainConfig = {
  model: 'tiny-cnn', method: 'none', filterRatio: 0, epochs: 1, batchSize: 8, lr: 0.05, momentum: 0.9, weightDecay: 0,
  seed: 11, featureSource: 'cache', solver: 'auto', saveSelections: false,
};
const tmp = (): string => mkdtempSync(join(tmpdir(), 'trainer-sb-'));
const selectionRows = (dir: string): { epoch: number; batch: number; kept: string[] }[] =>
  readFileSync(join(dir, 'selections.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const freeModel = (m: { parameters(): Tensor[] }): void => m.parameters().forEach((p) => p.dispose());

test('drawn size and k per mode: super-batch draws ⌈B/(1 − f)⌉ and keeps B; a partial one keeps the same proportion', () => {
  assert.equal(drawnBatchSize('super-batch', 128, 0.8), 640, 'not 641: 128/(1 − 0.8) rounds above 640 in floating point');
  assert.equal(drawnBatchSize('super-batch', 8, 0.75), 32);
  assert.equal(drawnBatchSize('super-batch', 8, 0.7), 27);
  assert.equal(drawnBatchSize('in-batch', 8, 0.75), 8);
  assert.equal(keepFor(32, 0.75, 8, 'super-batch'), 8);
  assert.equal(keepFor(16, 0.75, 8, 'super-batch'), 4);
  assert.equal(keepFor(1, 0.75, 8, 'super-batch'), 1);
  assert.equal(keepFor(8, 0.75, 8, 'in-batch'), 2);
});

test('super-batch mode trains exactly B per optimizer step, for every selector and several filter ratios', async () => {
  const s = synthetic(1, { n: 96 });
  manualSeed(99);
  const reference = new TinyCNN(3);
  const dir = tmp();
  try {
    const cases: [Method, TrainConfig['featureSource'], number[]][] = [
      ['none', 'cache', [0]], ['random', 'cache', [0.5, 0.75, 0.8]], ['saln', 'cache', [0.5, 0.8]], ['saln', 'pixels', [0.75]],
      ['saln', 'learner', [0.75]], ['loss-topk', 'cache', [0.5, 0.8]], ['jest', 'cache', [0.75]], ['rho-loss', 'cache', [0.5, 0.8]],
      ['craig', 'cache', [0.8]], ['random-balanced', 'cache', [0.75]],
    ];
    for (const [method, featureSource, ratios] of cases) {
      for (const f of ratios) {
        const what = `${method}/${featureSource} f=${f}`;
        const run = join(dir, `${method}-${featureSource}-${f}`);
        const drawn = drawnBatchSize('super-batch', 8, f);
        // The source is built at B on purpose: the trainer rebuilds it at the drawn size.
        const res = await train({ config: { ...base, method, featureSource, filterRatio: f, selectionMode: 'super-batch', saveSelections: true }, data: s.data, runDir: run, reference });
        const sum = res.summary!;
        const full = Math.floor(96 / drawn);
        const rest = 96 - full * drawn;
        const perStep = [...Array(full).fill(8), ...(rest ? [Math.max(1, Math.floor((rest * 8) / drawn))] : [])];
        assert.deepEqual(selectionRows(run).map((r) => r.kept.length), perStep, what);
        assert.equal(new Set(selectionRows(run).flatMap((r) => r.kept)).size, sum.counts.gradient_samples, `${what}: distinct samples`);
        assert.equal(sum.counts.optimizer_steps, perStep.length, what);
        assert.equal(sum.counts.gradient_samples, perStep.reduce((a, b) => a + b, 0), what);
        assert.equal(sum.counts.seen_samples, 96, `${what}: one pass of the scoring side`);
        assert.equal(res.metrics[0]!.drawn_batch_size, drawn);
        const scoring = method === 'none' ? 0 : 96;
        assert.equal(sum.counts.scored_samples, ['loss-topk', 'jest', 'rho-loss'].includes(method) || featureSource === 'learner' && method === 'saln' ? scoring : 0, `${what} scored`);
        assert.equal(sum.counts.feature_samples, method === 'saln' || method === 'craig' ? 96 : 0, `${what} features`);
        assert.equal(sum.counts.reference_samples, ['jest', 'rho-loss'].includes(method) ? 96 : 0, `${what} reference`);
        assert.equal(sum.selection_mode, 'super-batch');
        freeModel(res.model);
      }
    }
    // infobatch: prunes within the super-batch and trains at most B; unpruned (epoch 1), exactly B.
    const run = join(dir, 'infobatch');
    const res = await train({ config: { ...base, method: 'infobatch', infobatchMode: 'in-batch', filterRatio: 0.5, epochs: 3, selectionMode: 'super-batch', saveSelections: true }, data: s.data, runDir: run });
    const rows = selectionRows(run);
    assert.deepEqual(rows.filter((r) => r.epoch === 0).map((r) => r.kept.length), Array(6).fill(8));
    assert.ok(rows.every((r) => r.kept.length >= 1 && r.kept.length <= 8));
    assert.ok(res.metrics[1]!.selector!.pruned! > 0, 'infobatch pruned in epoch 2');
    freeModel(res.model);
  } finally {
    s.free();
    freeModel(reference);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with a filter-ratio schedule the drawn size follows each epoch\'s ratio', async () => {
  const s = synthetic(2, { n: 96 });
  try {
    const res = await train({ config: { ...base, method: 'random', filterRatio: 0, epochs: 3, selectionMode: 'super-batch', schedule: { kind: 'linear', end: 0.75 } }, data: s.data });
    assert.deepEqual(res.metrics.map((m) => m.drawn_batch_size), [8, 13, 32]);
    // 96/8 = 12 steps of 8; 96/13: 7 of 8 and a partial 5 keeping floor(5·8/13) = 3; 96/32 = 3 of 8.
    assert.deepEqual(res.metrics.map((m) => m.steps), [12, 8, 3]);
    assert.deepEqual(res.metrics.map((m) => m.trained_samples), [96, 59, 24]);
    freeModel(res.model);
  } finally {
    s.free();
  }
});

/**
 * random in super-batch mode is plain SGD on uniformly drawn batches of B, like `none` at batch B:
 * the same seed sweep must not tell them apart. Per seed, the statistic is the mean train loss
 * over the same number of optimizer steps (none: 4 epochs of 12 steps; random at f = 0.5:
 * 8 epochs of 6 steps, each of B = 8). With 6 seeds per arm the test is Welch's: the difference of
 * the arms' means must lie within 3 standard errors, sqrt(s_a²/n + s_b²/n). The same criterion must
 * reject a setup that really differs (lr × 4 on the random arm), or it could not fail at all.
 */
test('random in super-batch mode is statistically indistinguishable from none at batch B (seed sweep)', async () => {
  const s = synthetic(3, { n: 96, val: false });
  try {
    const stepLoss = (metrics: EpochMetrics[]): number => metrics.reduce((a, m) => a + m.train_loss * m.trained_samples, 0) / metrics.reduce((a, m) => a + m.trained_samples, 0);
    const arm = async (cfg: Partial<TrainConfig>): Promise<number[]> => {
      const out: number[] = [];
      for (let seed = 0; seed < 6; seed++) {
        const res = await train({ config: { ...base, lr: 0.02, seed, ...cfg }, data: s.data });
        assert.equal(res.summary!.counts.optimizer_steps, 48);
        out.push(stepLoss(res.metrics));
        freeModel(res.model);
      }
      return out;
    };
    const welch = (a: number[], b: number[]): { diff: number; se: number } => {
      const mean = (v: number[]): number => v.reduce((x, y) => x + y, 0) / v.length;
      const variance = (v: number[]): number => v.reduce((x, y) => x + (y - mean(v)) ** 2, 0) / (v.length - 1);
      return { diff: mean(a) - mean(b), se: Math.sqrt(variance(a) / a.length + variance(b) / b.length) };
    };
    const none = await arm({ method: 'none', epochs: 4 });
    const random = await arm({ method: 'random', filterRatio: 0.5, epochs: 8, selectionMode: 'super-batch' });
    const same = welch(none, random);
    assert.ok(Math.abs(same.diff) <= 3 * same.se, `none vs random super-batch: |${same.diff}| > 3 × ${same.se}`);
    const faster = await arm({ method: 'random', filterRatio: 0.5, epochs: 8, selectionMode: 'super-batch', lr: 0.08 });
    const differ = welch(none, faster);
    assert.ok(Math.abs(differ.diff) > 3 * differ.se, `the criterion must reject lr × 4: |${differ.diff}| <= 3 × ${differ.se}`);
  } finally {
    s.free();
  }
});

test('a gradient-sample budget stops after the step that reaches it, validates the partial epoch, tests, and a resume trains no more', async () => {
  const s = synthetic(4, { n: 96 });
  const dir = tmp();
  try {
    // In-batch, B = 8, f = 0.5: 4 gradient samples per step, 12 steps per epoch; 30 is reached at step 8 (32).
    const cfg: TrainConfig = { ...base, method: 'random', filterRatio: 0.5, epochs: 5, budget: { gradientSamples: 30 } };
    const res = await train({ config: cfg, data: s.data, runDir: dir });
    const sum = res.summary!;
    assert.equal(sum.stopped_by, 'budget-gradient-samples');
    assert.equal(sum.counts.gradient_samples, 32);
    assert.equal(sum.counts.optimizer_steps, 8);
    assert.equal(sum.counts.seen_samples, 64);
    assert.equal(sum.epochs_done, 1);
    assert.equal(res.metrics.length, 1);
    assert.equal(res.metrics[0]!.partial, true);
    assert.equal(res.metrics[0]!.steps, 8);
    assert.equal(typeof res.metrics[0]!.val_accuracy, 'number', 'the partial epoch is validated');
    assert.ok(Number.isFinite(sum.test_accuracy));
    assert.equal(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).stopped_by, 'budget-gradient-samples');
    freeModel(res.model);
    // Resuming the finished run tests again and trains nothing more.
    const again = await train({ config: cfg, data: s.data, runDir: dir, resume: true });
    assert.deepEqual(again.summary!.counts, sum.counts);
    assert.equal(again.summary!.test_loss, sum.test_loss);
    assert.equal(again.metrics.length, 1);
    freeModel(again.model);
    // A budget across epochs: 60 is reached at step 15 (epoch 2, step 3); with one epoch only, the epochs stop it first.
    const two = await train({ config: { ...cfg, budget: { gradientSamples: 60 } }, data: s.data });
    assert.deepEqual(two.metrics.map((m) => [m.steps, m.partial ?? false]), [[12, false], [3, true]]);
    assert.equal(two.summary!.counts.gradient_samples, 60);
    freeModel(two.model);
    const one = await train({ config: { ...cfg, epochs: 1, budget: { gradientSamples: 1000 } }, data: s.data });
    assert.equal(one.summary!.stopped_by, 'epochs');
    assert.equal(one.metrics[0]!.partial, undefined);
    freeModel(one.model);
    // A wall-time budget (not deterministic; here: reached at the first step).
    const wall = await train({ config: { ...cfg, budget: { seconds: 1e-9 } }, data: s.data });
    assert.equal(wall.summary!.stopped_by, 'budget-seconds');
    assert.equal(wall.summary!.counts.optimizer_steps, 1);
    freeModel(wall.model);
  } finally {
    s.free();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cumulative counts are monotone per epoch and end equal to the summary\'s', async () => {
  const s = synthetic(5, { n: 48 });
  try {
    const res = await train({ config: { ...base, method: 'loss-topk', filterRatio: 0.5, epochs: 3, selectionMode: 'super-batch' }, data: s.data });
    const c = res.metrics.map((m) => m.cumulative);
    for (let i = 1; i < c.length; i++) {
      for (const k of ['gradient_samples', 'scored_samples', 'optimizer_steps', 'seen_samples', 'wall_seconds'] as const) assert.ok(c[i]![k] > c[i - 1]![k], `${k} grows at epoch ${i + 1}`);
      assert.equal(c[i]!.gradient_samples - c[i - 1]!.gradient_samples, res.metrics[i]!.trained_samples);
    }
    const last = c[c.length - 1]!;
    const { wall_seconds: wall, ...counts } = last;
    assert.deepEqual(counts, res.summary!.counts);
    assert.ok(wall > 0 && wall <= res.summary!.wall_seconds);
    freeModel(res.model);
  } finally {
    s.free();
  }
});

test('linear lr scaling: one step on a batch of k = B/2 moves the parameters by k/B of the unscaled step', async () => {
  const s = synthetic(6, { n: 16, batchSize: 16, val: false });
  try {
    const deltas: Float32Array[][] = [];
    for (const lrScaling of ['none', 'linear'] as const) {
      manualSeed(21);
      const learner = new TinyCNN(3);
      const before = learner.parameters().map((p) => p.toTypedArray<'float32'>().slice() as Float32Array);
      const res = await train({ config: { ...base, method: 'random', filterRatio: 0.5, batchSize: 16, momentum: 0, lrScaling }, data: s.data, learner });
      assert.equal(res.summary!.counts.optimizer_steps, 1);
      assert.equal(res.summary!.counts.gradient_samples, 8);
      deltas.push(learner.parameters().map((p, i) => Float32Array.from(p.toTypedArray<'float32'>() as Float32Array, (v, j) => v - before[i]![j]!)));
      freeModel(learner);
    }
    const [none, linear] = deltas;
    none!.forEach((d, i) => {
      assert.ok(d.some((v) => v !== 0), `parameter ${i} moved`);
      assertClose(linear![i]!, Array.from(d, (v) => v * 0.5), { rtol: 1e-3, atol: 1e-7, what: `parameter ${i}` });
    });
  } finally {
    s.free();
  }
});

test('selection_examples.safetensors: features and kept positions of the first batch of the first and last epochs; survives a resume', async () => {
  const s = synthetic(7, { n: 48 });
  const a = tmp();
  const b = tmp();
  try {
    const cfg: TrainConfig = { ...base, method: 'saln', featureSource: 'pixels', filterRatio: 0.5, epochs: 3, batchSize: 16, saveSelections: true };
    freeModel((await train({ config: cfg, data: s.data, runDir: a })).model);
    const f = loadSafetensors(join(a, EXAMPLES_FILE));
    try {
      assert.deepEqual([...f.tensors.keys()].sort(), ['epoch0.batch0.features', 'epoch0.batch0.kept', 'epoch2.batch0.features', 'epoch2.batch0.kept']);
      assert.equal(f.metadata.method, 'saln');
      assert.equal(f.metadata.feature_source, 'pixels');
      const ids = JSON.parse(f.metadata.ids!) as Record<string, string[]>;
      const rows = selectionRows(a);
      for (const e of [0, 2]) {
        const key = `epoch${e}.batch0`;
        const feats = f.tensors.get(`${key}.features`)!;
        const kept = f.tensors.get(`${key}.kept`)!;
        assert.equal(feats.dtype, 'float32');
        assert.deepEqual(feats.shape, [16, 3 * 8 * 8]);
        assert.equal(kept.dtype, 'int64');
        assert.deepEqual(kept.shape, [8]);
        const row = rows.find((r) => r.epoch === e && r.batch === 0)!;
        assert.deepEqual(Array.from(kept.toArray(), (p) => ids[key]![Number(p)]), row.kept);
      }
    } finally {
      for (const t of f.tensors.values()) t.dispose();
    }
    // Interrupted after epoch 1 and resumed: the same file, the epoch-1 example included.
    freeModel((await train({ config: cfg, data: s.data, runDir: b, stopAfterEpochs: 1 })).model);
    assert.ok(existsSync(join(b, EXAMPLES_FILE)));
    freeModel((await train({ config: cfg, data: s.data, runDir: b, resume: true })).model);
    assert.deepEqual(readFileSync(join(b, EXAMPLES_FILE)), readFileSync(join(a, EXAMPLES_FILE)));
    // Selectors that see no features write none.
    const c = join(a, 'random');
    freeModel((await train({ config: { ...cfg, method: 'random' }, data: s.data, runDir: c })).model);
    assert.ok(!existsSync(join(c, EXAMPLES_FILE)));
  } finally {
    s.free();
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('--device cuda without a GPU is a clear error, before any work', { skip: cudaDeviceCount() > 0 && 'this machine has CUDA' }, async () => {
  const s = synthetic(8, { n: 16 });
  const dir = tmp();
  try {
    await assert.rejects(train({ config: { ...base, device: 'cuda' }, data: s.data, runDir: join(dir, 'r') }), /--device cuda: CUDA is not available/);
    assert.ok(!existsSync(join(dir, 'r')));
  } finally {
    s.free();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a wall budget covers the whole run: up-front work (reference training, feature extraction) comes off the training clock\'s', async () => {
  const { upfrontOffBudget } = await import('../../src/train/run.js');
  const base = { budget: { seconds: 900 }, extra: { reference_wall_seconds: 300, feature_extraction_seconds: 100 } } as unknown as TrainConfig;
  const lines: string[] = [];
  const c = upfrontOffBudget(base, (l) => lines.push(l));
  assert.equal(c.budget!.seconds, 500);
  assert.deepEqual([c.extra!.budget_seconds_asked, c.extra!.budget_upfront_seconds], [900, 400]);
  assert.deepEqual(lines, ['wall budget 900 s: 400 s went to work before training (reference, features), 500 s are left for it']);
  // More up-front work than budget: nothing left (the run stops after its first step).
  assert.equal(upfrontOffBudget({ ...base, budget: { seconds: 200 } }).budget!.seconds, 0);
  // No wall budget, or no up-front work: unchanged.
  const samples = { ...base, budget: { gradientSamples: 100 } } as TrainConfig;
  assert.equal(upfrontOffBudget(samples), samples);
  const plain = { ...base, extra: {} } as TrainConfig;
  assert.equal(upfrontOffBudget(plain), plain);
});
