/** Each selector on a constructed batch where the right choice is known. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keptCount, selectSpectral } from '../../src/selection/index.js';
import { tensor } from '../../src/tensor/index.js';
import { createSelector, InBatchInfoBatchSelector, JestSelector, LossTopKSelector, NoneSelector, RandomSelector, RhoLossSelector, SalnSelector, type SelectContext } from '../../src/train/selectors/index.js';

function ctx(b: number, filterRatio: number, extra: Partial<SelectContext> = {}): SelectContext {
  return {
    batchSize: b, k: keptCount(b, filterRatio), ids: Array.from({ length: b }, (_, i) => `s${i}`),
    labels: new Int32Array(b), seed: 7, epoch: 0, batchIndex: 0, ...extra,
  };
}

test('none keeps the whole batch, in order', () => {
  assert.deepEqual(new NoneSelector().select({ ...ctx(5, 0) }), [0, 1, 2, 3, 4]);
  assert.deepEqual(new NoneSelector().needs, {});
});

test('random: k distinct positions, deterministic per (seed, epoch, batch), different across them', () => {
  const s = new RandomSelector();
  const c = ctx(32, 0.75);
  const a = s.select(c);
  assert.equal(a.length, 8);
  assert.equal(new Set(a).size, 8);
  assert.ok(a.every((i) => Number.isInteger(i) && i >= 0 && i < 32));
  assert.deepEqual(s.select(c), a, 'same seed, same choice');
  assert.notDeepEqual(s.select({ ...c, batchIndex: 1 }), a);
  assert.notDeepEqual(s.select({ ...c, seed: 8 }), a);
  assert.deepEqual(s.needs, {}, 'needs nothing: as cheap as none');
});

test('random is uniform-ish: every position kept about k/B of the time', () => {
  const s = new RandomSelector();
  const b = 20;
  const counts = new Array<number>(b).fill(0);
  const trials = 4000;
  for (let t = 0; t < trials; t++) for (const i of s.select({ ...ctx(b, 0.5), batchIndex: t })) counts[i]!++;
  const expected = (trials * 10) / b; // 2000
  // Binomial sd ≈ sqrt(4000·0.5·0.5) ≈ 32; allow 5 sd.
  for (const c of counts) assert.ok(Math.abs(c - expected) < 160, `count ${c} vs ${expected}`);
});

test('loss-topk picks the k highest learner losses', () => {
  const loss = Float32Array.from([0.1, 2.5, 0.3, 9.0, 0.2, 4.0, 0.05, 3.0]);
  const s = new LossTopKSelector();
  assert.deepEqual(s.needs, { learnerLoss: true });
  const kept = s.select(ctx(8, 0.5, { learnerLoss: loss }));
  assert.deepEqual(kept, [3, 5, 7, 1]);
  assert.throws(() => s.select(ctx(8, 0.5)), /learner losses/);
});

test('saln on two clusters plus outliers matches selectSpectral directly, for every feature source', () => {
  // Two tight clusters of 6 in 4-D, and 4 outliers in between.
  const rows: number[][] = [];
  for (let i = 0; i < 6; i++) rows.push([1, 0.01 * i, 0, 0.02 * ((i * 7) % 5)]);
  for (let i = 0; i < 6; i++) rows.push([0, 1, 0.01 * i, 0.015 * ((i * 3) % 4)]);
  rows.push([1, 1, 0.2, 0], [0.9, 1.1, 0, 0.3], [1, 0.8, 0.5, 0.1], [0.7, 1, 0.1, 0.6]);
  const b = rows.length;
  const x = tensor(rows);
  try {
    for (const r of [0.5, 0.75, 0.8]) {
      const direct = selectSpectral(x, { filterRatio: r }).indices;
      for (const source of ['cache', 'pixels', 'learner'] as const) {
        const s = new SalnSelector(source);
        assert.deepEqual(s.select(ctx(b, r, { features: x })), direct, `r ${r} source ${source}`);
      }
    }
    assert.deepEqual(createSelector('saln').needs, { features: true });
    assert.deepEqual(createSelector('saln', { featureSource: 'pixels' }).needs, { pixels: true });
    assert.deepEqual(createSelector('saln', { featureSource: 'learner' }).needs, { learnerFeatures: true });
  } finally {
    x.dispose();
  }
});

test('rho-loss keeps the k highest learner − reference losses, not the highest learner losses', () => {
  const learner = Float32Array.from([5, 4, 3, 2, 1, 0.5]);
  const reference = Float32Array.from([4.9, 3.9, 0, 0, 0.9, 0]);
  const s = new RhoLossSelector();
  assert.deepEqual(s.needs, { learnerLoss: true, referenceLoss: true });
  // reducible: [0.1, 0.1, 3, 2, 0.1, 0.5]
  assert.deepEqual(s.select(ctx(6, 0.5, { learnerLoss: learner, referenceLoss: reference })), [2, 3, 5]);
  assert.throws(() => s.select(ctx(6, 0.5, { learnerLoss: learner })), /reference losses/);
});

test('jest: k distinct samples drawn in chunks, deterministic per seed, following softmax(learnability)', () => {
  const s = new JestSelector({ chunks: 4 });
  assert.deepEqual(s.needs, { learnerLoss: true, referenceLoss: true });
  // Four samples far more learnable than the rest are (almost surely) the four kept.
  const b = 16;
  const learner = Float32Array.from({ length: b }, (_, i) => (i % 4 === 1 ? 60 : 1));
  const reference = new Float32Array(b).fill(0.5);
  const c = ctx(b, 0.75, { learnerLoss: learner, referenceLoss: reference });
  const kept = s.select(c);
  assert.deepEqual([...kept].sort((x, y) => x - y), [1, 5, 9, 13]);
  assert.deepEqual(s.select(c), kept);
  // k = 8 from 16 equal scores: 8 distinct positions, and different per batch.
  const flat = ctx(b, 0.5, { learnerLoss: new Float32Array(b), referenceLoss: new Float32Array(b) });
  const a1 = s.select(flat);
  assert.equal(new Set(a1).size, 8);
  assert.notDeepEqual(s.select({ ...flat, batchIndex: 1 }), a1);
  // Two samples, k = 1, learnability ln 3 vs 0: the first is kept 3/4 of the time.
  let first = 0;
  const trials = 4000;
  for (let t = 0; t < trials; t++) {
    const kept1 = s.select({ ...ctx(2, 0.5, { learnerLoss: Float32Array.from([Math.log(3), 0]), referenceLoss: new Float32Array(2) }), batchIndex: t });
    if (kept1[0] === 0) first++;
  }
  assert.ok(Math.abs(first / trials - 0.75) < 0.035, `P(first) = ${first / trials}`);
});

test('infobatch in-batch mode prunes below-mean samples with probability r, rescales the survivors, anneals, and checkpoints its state', () => {
  const s = new InBatchInfoBatchSelector({ ratio: 0.5 });
  assert.equal(s.variableK, true);
  const ids = Array.from({ length: 40 }, (_, i) => `s${i}`);
  assert.deepEqual(s.beginEpoch(0, 8, 1), { pruned: 0, rescaled: 0 }, 'nothing is known before the first epoch');
  s.observe(ids, ids.map((_, i) => i)); // losses 0..39, mean 19.5: s0..s19 are below
  const r = s.beginEpoch(1, 8, 1);
  assert.equal(r.pruned + r.rescaled, 20);
  assert.ok(r.pruned >= 4 && r.pruned <= 16, `pruned ${r.pruned} of 20 at r = 0.5`);
  const c = { ...ctx(40, 0), ids };
  const kept = s.select(c);
  assert.equal(kept.length, 40 - r.pruned);
  assert.ok(kept.filter((i) => i >= 20).length === 20, 'above-mean samples are never pruned');
  const w = s.weights(kept.map((i) => ids[i]!));
  kept.forEach((i, j) => assert.equal(w[j], i < 20 ? 2 : 1));
  // Same seed and epoch, same pruning; the state restores it.
  const t = new InBatchInfoBatchSelector({ ratio: 0.5 });
  t.loadState(JSON.parse(JSON.stringify(s.state())));
  t.beginEpoch(1, 8, 1);
  assert.deepEqual(t.select(c), kept);
  // Annealing: from epoch ceil(0.875·8) = 7 on, nothing is pruned.
  assert.deepEqual(s.beginEpoch(7, 8, 1), { pruned: 0, rescaled: 0 });
  assert.equal(s.select(c).length, 40);
});
