/**
 * The baselines as published (issue 15): learning-rate schedules against PyTorch's formulas,
 * RHO-LOSS's precomputed irreducible losses and train-mode scoring, InfoBatch's official sampler.
 * Expected values are computed by hand here, never by the code under test.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { lrAt, oneCycleAt } from '../../src/optim/lr-schedule.js';
import { manualSeed, randn, tensor, type Tensor } from '../../src/tensor/index.js';
import { lrScheduleFor, plannedSteps, scheduledLr } from '../../src/train/lr-plan.js';
import { zeroCounts } from '../../src/train/records.js';
import { scoreBatch } from '../../src/train/step.js';
import { InfoBatchSelector, LossTopKSelector, TinyCNN, train, type EpochMetrics, type TrainConfig } from '../../src/train/index.js';
import { synthetic } from './synthetic.js';

const base: TrainConfig = {
  model: 'tiny-cnn', method: 'none', filterRatio: 0, epochs: 4, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 0,
  seed: 11, featureSource: 'cache', solver: 'auto', saveSelections: false,
};
const close = (a: number, b: number, what: string, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
const freeModel = (m: { parameters(): Tensor[] }): void => m.parameters().forEach((p) => p.dispose());
const strip = (m: EpochMetrics) => ({ ...m, seconds: 0, wall_seconds: 0, load_average: 0, other_cpu: 0, cumulative: { ...m.cumulative, wall_seconds: 0 } });

test('lr schedules follow PyTorch\'s closed forms at given steps', () => {
  // CosineAnnealingLR(T_max = 10, eta_min = 0): lr·(1 + cos(π t/10))/2.
  const cos = { kind: 'cosine', totalSteps: 10 } as const;
  close(lrAt(0.1, cos, 0, 0).lr, 0.1, 'cosine t=0');
  close(lrAt(0.1, cos, 5, 0).lr, 0.05, 'cosine t=5');
  close(lrAt(0.1, cos, 9, 0).lr, 0.1 * (1 + Math.cos(0.9 * Math.PI)) / 2, 'cosine t=9');
  close(lrAt(0.1, cos, 10, 0).lr, 0, 'cosine t=T');
  // MultiStepLR(milestones [2, 4], gamma 0.1), stepped per epoch.
  const step = { kind: 'step', totalSteps: 99, milestones: [2, 4], gamma: 0.1 } as const;
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((e) => Number(lrAt(1, step, 0, e).lr.toPrecision(12))), [1, 1, 0.1, 0.1, 0.01, 0.01]);
  // Warmup W = 4: LinearLR(1/4, 1, total_iters 3) = (t + 1)/4, then the schedule from its own 0 over T − W.
  const warm = { kind: 'constant', totalSteps: 20, warmupSteps: 4 } as const;
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((t) => lrAt(0.2, warm, t, 0).lr), [0.05, 0.1, 0.15000000000000002, 0.2, 0.2, 0.2]);
  const warmCos = { kind: 'cosine', totalSteps: 14, warmupSteps: 4 } as const;
  close(lrAt(0.2, warmCos, 1, 0).lr, 0.1, 'warm cosine t=1 (warming, schedule at its start)');
  close(lrAt(0.2, warmCos, 9, 0).lr, 0.1, 'warm cosine t=9: 5 of 10 annealing steps');
  // OneCycleLR(max_lr 0.1, total_steps 100), defaults: initial 0.1/25 = 0.004, min 0.004/1e4; phase 1 ends at 0.3·100 − 1 = 29.
  const one = (t: number) => oneCycleAt(0.1, t, 100);
  close(one(0).lr, 0.004, 'onecycle t=0');
  close(one(0).momentum, 0.95, 'onecycle momentum t=0');
  close(one(29).lr, 0.1, 'onecycle peak');
  close(one(29).momentum, 0.85, 'onecycle momentum at the peak');
  close(one(64).lr, (0.1 + 4e-7) / 2, 'onecycle halfway down');
  close(one(64).momentum, 0.9, 'onecycle momentum halfway up');
  close(one(99).lr, 4e-7, 'onecycle last step');
  close(one(10).lr, 0.1 + ((0.004 - 0.1) / 2) * (1 + Math.cos((Math.PI * 10) / 29)), 'onecycle t=10');
  assert.deepEqual(lrAt(0.1, { kind: 'onecycle', totalSteps: 100 }, 64, 0), one(64));
});

test('the planned steps follow the epochs, the drawn size and a gradient-sample budget', () => {
  const s = synthetic(1, { n: 96, batchSize: 8 });
  try {
    // In-batch, B = 8, f = 0.5: 12 steps per epoch of 4 gradient samples; a budget of 30 ends at step 8.
    const cfg: TrainConfig = { ...base, method: 'random', batchSize: 8, filterRatio: 0.5, epochs: 5 };
    assert.deepEqual(plannedSteps(cfg, s.data.train), { total: 60, perEpoch: 12 });
    assert.deepEqual(plannedSteps({ ...cfg, budget: { gradientSamples: 30 } }, s.data.train), { total: 8, perEpoch: 12 });
    // Super-batch at f = 0.75 draws 32: 3 steps per epoch.
    assert.deepEqual(plannedSteps({ ...cfg, filterRatio: 0.75, selectionMode: 'super-batch' }, s.data.train), { total: 15, perEpoch: 3 });
  } finally {
    s.free();
  }
});

test('with a wall-time budget, cosine and onecycle run on the clock: the lr reaches its end as the budget does', () => {
  const s = synthetic(3, { n: 48 });
  try {
    // 48 samples, B = 16: 3 steps per epoch; one warmup epoch W = 3 steps, then progress = wall / budget.
    const cfg: TrainConfig = { ...base, epochs: 100, budget: { seconds: 60 }, lrSchedule: { kind: 'cosine', warmupEpochs: 1 } };
    const sched = lrScheduleFor(cfg, s.data.train)!;
    assert.equal(sched.overSeconds, 60);
    close(scheduledLr(cfg, sched, 0, 0, 0).lr, 0.05 / 3, 'warmup step 0');
    close(scheduledLr(cfg, sched, 3, 1, 0).lr, 0.05, 'after warmup, no time spent');
    close(scheduledLr(cfg, sched, 50, 3, 30).lr, 0.025, 'half the budget: half the lr', 1e-6);
    close(scheduledLr(cfg, sched, 90, 5, 60).lr, 0, 'the budget spent: 0');
    close(scheduledLr(cfg, sched, 99, 6, 75).lr, 0, 'past the budget (the last step): still 0');
    // onecycle on the clock: its peak at 30% of the budget.
    const one: TrainConfig = { ...cfg, lrSchedule: { kind: 'onecycle' } };
    close(scheduledLr(one, lrScheduleFor(one, s.data.train), 7, 0, 18).lr, 0.05, 'onecycle peak at 0.3 of the budget', 1e-4);
    // Without a wall budget the schedule is planned in steps, as before.
    assert.equal(lrScheduleFor({ ...cfg, budget: { gradientSamples: 100 } }, s.data.train)!.overSeconds, undefined);
  } finally {
    s.free();
  }
});

test('a cosine schedule with warmup sets each step\'s lr in the loop (times k/B under linear scaling), and a resume replays it', async () => {
  const s = synthetic(2, { n: 48 });
  const dir = mkdtempSync(join(tmpdir(), 'saln-lr-'));
  try {
    // 48 samples, B = 16: 3 steps per epoch, T = 12; one warmup epoch W = 3. The epoch's last step is t = 3e + 2.
    const cfg: TrainConfig = { ...base, method: 'random', filterRatio: 0.5, lrScaling: 'linear', lrSchedule: { kind: 'cosine', warmupEpochs: 1 } };
    const full = await train({ config: cfg, data: s.data });
    const expected = [0, 1, 2, 3].map((e) => {
      const t = 3 * e + 2;
      const lr = t < 3 ? (0.05 * (t + 1)) / 3 : (0.05 * (1 + Math.cos((Math.PI * (t - 3)) / 9))) / 2;
      return lr * 0.5; // linear scaling: k/B = 8/16
    });
    full.metrics.forEach((m, i) => close(m.lr!, expected[i]!, `epoch ${i + 1} lr`, 1e-9));
    freeModel(full.model);
    freeModel((await train({ config: cfg, data: s.data, runDir: dir, stopAfterEpochs: 2 })).model);
    const resumed = await train({ config: cfg, data: s.data, runDir: dir, resume: true });
    assert.deepEqual(resumed.metrics.map(strip), full.metrics.map(strip));
    assert.equal(resumed.summary!.test_loss, full.summary!.test_loss);
    // A constant schedule is the paper's: every step at lr.
    const constant = await train({ config: { ...base, epochs: 1 }, data: s.data });
    assert.equal(constant.metrics[0]!.lr, 0.05);
    freeModel(constant.model);
    freeModel(resumed.model);
  } finally {
    s.free();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('precomputed reference scores: the reference scores each training sample once, not once per batch; online scores every batch', async () => {
  const s = synthetic(3, { n: 48 });
  try {
    manualSeed(5);
    const reference = new TinyCNN(3);
    let forwarded = 0;
    const forward = reference.forward.bind(reference);
    reference.forward = (x: Tensor) => {
      forwarded += x.shape[0]!;
      return forward(x);
    };
    for (const method of ['rho-loss', 'jest'] as const) {
      forwarded = 0;
      const pre = await train({ config: { ...base, method, filterRatio: 0.5, epochs: 3, referenceScores: 'precomputed' }, data: s.data, reference });
      assert.equal(forwarded, 48, `${method}: one reference forward per training sample`);
      assert.equal(pre.summary!.counts.reference_samples, 48);
      assert.equal(pre.summary!.counts.seen_samples, 3 * 48);
      assert.equal(typeof pre.summary!.reference_scoring_seconds, 'number');
      assert.ok(pre.summary!.phases.scoring >= pre.summary!.reference_scoring_seconds!);
      freeModel(pre.model);
      forwarded = 0;
      const online = await train({ config: { ...base, method, filterRatio: 0.5, epochs: 3, referenceScores: 'online' }, data: s.data, reference });
      assert.equal(forwarded, 3 * 48, `${method}: online scores every drawn sample`);
      assert.equal(online.summary!.counts.reference_samples, 3 * 48);
      freeModel(online.model);
    }
    // Precomputed losses equal what the reference gives on the same (un-augmented) samples: same selections as online.
    const a = await train({ config: { ...base, method: 'rho-loss', filterRatio: 0.5, epochs: 2, referenceScores: 'precomputed', scoreMode: 'eval' }, data: s.data, reference });
    const b = await train({ config: { ...base, method: 'rho-loss', filterRatio: 0.5, epochs: 2, referenceScores: 'online', scoreMode: 'eval' }, data: s.data, reference });
    assert.deepEqual(a.metrics.map((m) => m.train_loss), b.metrics.map((m) => m.train_loss));
    freeModel(a.model);
    freeModel(b.model);
    // Without the un-augmented training set, precomputed scores are refused before any work.
    await assert.rejects(train({ config: { ...base, method: 'rho-loss', filterRatio: 0.5, referenceScores: 'precomputed' }, data: { ...s.data, trainScoring: undefined }, reference }), /TrainData\.trainScoring/);
    freeModel(reference);
  } finally {
    s.free();
  }
});

test('score mode train updates BatchNorm\'s running statistics during the scoring forward, without gradients; eval leaves them', () => {
  manualSeed(7);
  const x = randn([8, 3, 8, 8]).mul(3).add(1);
  const y = tensor([0, 1, 2, 0, 1, 2, 0, 1], { dtype: 'int64' });
  for (const mode of ['train', 'eval'] as const) {
    manualSeed(8);
    const model = new TinyCNN(3);
    model.train();
    const before = Array.from(model.bn1.runningMean!.toTypedArray<'float32'>());
    const owned: Tensor[] = [];
    const ctx = scoreBatch({ x, y, ids: Array.from({ length: 8 }, (_, i) => `s${i}`), index: 0 }, 4, { selector: new LossTopKSelector(), model, seed: 0, epoch: 0, scoreMode: mode }, zeroCounts(), owned);
    assert.equal(ctx.learnerLoss!.length, 8);
    const after = Array.from(model.bn1.runningMean!.toTypedArray<'float32'>());
    const tracked = Number(model.bn1.numBatchesTracked!.item());
    if (mode === 'train') {
      assert.notDeepEqual(after, before, 'train mode: running mean moved toward the scored batch');
      assert.equal(tracked, 1);
    } else {
      assert.deepEqual(after, before, 'eval mode: running statistics untouched');
      assert.equal(tracked, 0);
    }
    assert.ok(model.parameters().every((p) => p.grad === null), `${mode}: no gradients from scoring`);
    assert.equal(model.training, true, 'the learner is back in train mode');
    owned.forEach((t) => t.dispose());
    freeModel(model);
  }
  x.dispose();
  y.dispose();
});

test('official infobatch: exact-count pruning of the well-learned set, 1/(1 − r) rescaling, and annealing as the official code does it', () => {
  const ids = Array.from({ length: 40 }, (_, i) => `s${i}`);
  const s = new InfoBatchSelector({ ratio: 0.5 });
  // Every score starts at 3: nothing is below the mean.
  assert.deepEqual(s.epochOrder(0, 8, 1, ids).report, { pruned: 0, rescaled: 0 });
  s.observe(ids, ids.map((_, i) => i)); // mean 19.5: s0..s19 are well learned
  const e1 = s.epochOrder(1, 8, 1, ids);
  assert.deepEqual(e1.report, { pruned: 10, rescaled: 10 }, 'int(0.5·20) = 10 of 20 stay');
  assert.equal(e1.positions.length, 30);
  assert.equal(new Set(e1.positions).size, 30);
  for (let i = 20; i < 40; i++) assert.ok(e1.positions.includes(i), `s${i} (above the mean) stays`);
  const w = s.weights(e1.positions.map((p) => ids[p]!));
  e1.positions.forEach((p, j) => assert.equal(w[j], p < 20 ? 2 : 1));
  assert.notDeepEqual(e1.positions, [...e1.positions].sort((a, b) => a - b), 'the index list is shuffled');
  // r = 0.7: keep = 1 − 0.7, int(0.3·20) = 6 stay, weight 1/0.3; r = 0.95 is clamped to keep 0.1: int(2) = 2.
  const r7 = new InfoBatchSelector({ ratio: 0.7 });
  r7.observe(ids, ids.map((_, i) => i));
  assert.deepEqual(r7.epochOrder(1, 8, 1, ids).report, { pruned: 14, rescaled: 6 });
  const r95 = new InfoBatchSelector({ ratio: 0.95 });
  r95.observe(ids, ids.map((_, i) => i));
  assert.deepEqual(r95.epochOrder(1, 8, 1, ids).report, { pruned: 18, rescaled: 2 });
  // E = 8, δ·E = 7: epochs 0–6 prune; epoch 7 (reset count 8 = 7 + 1) visits all and resets the weights.
  assert.equal(s.epochOrder(6, 8, 1, ids).report.pruned, 10);
  assert.deepEqual(s.epochOrder(7, 8, 1, ids).report, { pruned: 0, rescaled: 0 });
  assert.ok(s.weights(ids).every((v) => v === 1));
  // E = 25, δ·E = 21.875: epoch 20 prunes, 21 anneals, and the weights of epoch 20 stay on (no reset count equals 22.875).
  const t = new InfoBatchSelector({ ratio: 0.5 });
  t.observe(ids, ids.map((_, i) => i));
  assert.equal(t.epochOrder(20, 25, 1, ids).report.pruned, 10);
  assert.deepEqual(t.epochOrder(21, 25, 1, ids).report, { pruned: 0, rescaled: 10 });
  assert.equal(t.weights(ids).filter((v) => v === 2).length, 10);
  // The state (scores, weights) restores the same epoch.
  const v = new InfoBatchSelector({ ratio: 0.5 });
  v.observe(ids, ids.map((_, i) => i));
  const saved = JSON.parse(JSON.stringify(v.state()));
  const p1 = v.epochOrder(1, 8, 1, ids).positions;
  const restored = new InfoBatchSelector({ ratio: 0.5 });
  restored.loadState(saved);
  assert.deepEqual(restored.epochOrder(1, 8, 1, ids).positions, p1);
});

test('official infobatch in training: pruned samples leave the epoch, batches stay full, the steps drop; resume is exact', async () => {
  const s = synthetic(4, { n: 48, batchSize: 8 });
  const a = mkdtempSync(join(tmpdir(), 'saln-ib-'));
  const b = mkdtempSync(join(tmpdir(), 'saln-ib-'));
  try {
    const cfg: TrainConfig = { ...base, method: 'infobatch', filterRatio: 0.5, epochs: 8, batchSize: 8, infobatchMode: 'official', saveSelections: true };
    const full = await train({ config: cfg, data: s.data, runDir: a });
    const rows = readFileSync(join(a, 'selections.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; kept: string[] });
    full.metrics.forEach((m, e) => {
      const seen = 48 - m.selector!.pruned!;
      assert.equal(m.seen_samples, seen, `epoch ${e + 1}`);
      assert.equal(m.trained_samples, seen, 'every visited sample is trained');
      assert.equal(m.steps, Math.ceil(seen / 8), `epoch ${e + 1}: full batches`);
      const sizes = rows.filter((r) => r.epoch === e).map((r) => r.kept.length);
      assert.deepEqual(sizes.slice(0, -1), Array(sizes.length - 1).fill(8), `epoch ${e + 1}: batches of B but the last`);
    });
    assert.equal(full.metrics[0]!.steps, 6, 'epoch 1 prunes nothing (every score starts at 3)');
    assert.ok(full.metrics.slice(1, 7).every((m) => m.steps < 6), 'pruning epochs take fewer steps');
    assert.equal(full.metrics[7]!.seen_samples, 48, 'annealed: epoch 8 visits every sample');
    freeModel(full.model);
    freeModel((await train({ config: cfg, data: s.data, runDir: b, stopAfterEpochs: 3 })).model);
    const resumed = await train({ config: cfg, data: s.data, runDir: b, resume: true });
    assert.deepEqual(resumed.metrics.map(strip), full.metrics.map(strip));
    assert.equal(readFileSync(join(b, 'selections.jsonl'), 'utf8'), readFileSync(join(a, 'selections.jsonl'), 'utf8'));
    freeModel(resumed.model);
    await assert.rejects(train({ config: { ...cfg, selectionMode: 'super-batch' }, data: s.data }), /official mode prunes each epoch's index list/);
  } finally {
    s.free();
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});
