/**
 * The issue-18 candidates (random-balanced, kcenter, craig, the saln variants) on constructed
 * batches whose right answer is worked out by hand, and one short train() run of each.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { facilityLocation, kCenterGreedy, keptCount, normalizedSquaredDistances, selectSpectral } from '../../src/selection/index.js';
import { F, Linear } from '../../src/nn/index.js';
import { manualSeed, noGrad, randn, tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { lastLayerGradients } from '../../src/train/embedding.js';
import { assertClose } from '../helpers.js';
import {
  CraigSelector, createSelector, KCenterSelector, RandomBalancedSelector, RandomSelector, SalnSelector, smallestPositions, stratifiedPositions,
  TinyCNN, train, type SelectContext, type TrainConfig,
} from '../../src/train/index.js';
import { synthetic } from './synthetic.js';

function ctx(b: number, k: number, extra: Partial<SelectContext> = {}): SelectContext {
  return { batchSize: b, k, ids: Array.from({ length: b }, (_, i) => `s${i}`), labels: new Int32Array(b), seed: 7, epoch: 0, batchIndex: 0, ...extra };
}

/** Unit vectors at these angles (degrees), each scaled by its own factor (the selectors normalize). */
function atAngles(degrees: number[], scales: number[] = []): Tensor {
  return tensor(degrees.map((a, i) => [Math.cos((a * Math.PI) / 180) * (scales[i] ?? 1), Math.sin((a * Math.PI) / 180) * (scales[i] ?? 1)]));
}

const countBy = (xs: number[], of: (i: number) => number): Map<number, number> => {
  const m = new Map<number, number>();
  for (const i of xs) m.set(of(i), (m.get(of(i)) ?? 0) + 1);
  return m;
};

test('random-balanced keeps at least ⌊k/C⌋ of every class present, where random often misses the rare one', () => {
  // 30 samples: 20 of class 0, 6 of class 1, 4 of class 2; k = 9 → 3 of each at least.
  const labels = Int32Array.from([...Array(20).fill(0), ...Array(6).fill(1), ...Array(4).fill(2)]);
  const s = new RandomBalancedSelector();
  assert.deepEqual(s.needs, {});
  let randomMissed = 0;
  for (let b = 0; b < 200; b++) {
    const c = ctx(30, 9, { labels, batchIndex: b });
    const kept = s.select(c);
    assert.equal(new Set(kept).size, 9);
    assert.deepEqual(kept, [...kept].sort((x, y) => x - y), 'ascending');
    const per = countBy(kept, (i) => labels[i]!);
    for (const cls of [0, 1, 2]) assert.ok((per.get(cls) ?? 0) >= 3, `batch ${b}: class ${cls} kept ${per.get(cls) ?? 0}`);
    if ((countBy(new RandomSelector().select(c), (i) => labels[i]!).get(2) ?? 0) < 3) randomMissed++;
  }
  // P(random keeps ≥ 3 of the 4 rare ones) = [C(4,3)·C(26,6) + C(26,5)] / C(30,9) ≈ 0.04.
  assert.ok(randomMissed > 150, `random kept 3 of class 2 in ${200 - randomMissed} of 200 batches`);
  const c = ctx(30, 9, { labels });
  assert.deepEqual(s.select(c), s.select(c), 'seeded by (seed, epoch, batch)');
  assert.notDeepEqual(s.select({ ...c, batchIndex: 1 }), s.select(c));
});

test('random-balanced: a class smaller than its quota is kept whole, and the rest is filled from the others', () => {
  // 20 of class 0, 8 of class 1, 2 of class 3 (no class 2); k = 12 → quota 4, class 3 has only 2.
  const labels = Int32Array.from([...Array(20).fill(0), ...Array(8).fill(1), 3, 3]);
  for (let b = 0; b < 50; b++) {
    const kept = new RandomBalancedSelector().select(ctx(30, 12, { labels, batchIndex: b }));
    const per = countBy(kept, (i) => labels[i]!);
    assert.equal(kept.length, 12);
    assert.equal(per.get(3), 2);
    assert.ok(per.get(0)! >= 4 && per.get(1)! >= 4, JSON.stringify([...per]));
    assert.equal(per.get(2), undefined);
  }
});

test('normalizedSquaredDistances: chord distances of the directions; a zero row is at 1 from the rest', () => {
  const x = tensor([[3, 0], [0, 0.5], [-2, 0], [0, 0]]);
  try {
    const d = Array.from(normalizedSquaredDistances(x), (v) => Number(v.toFixed(12)));
    assert.deepEqual(d, [0, 2, 4, 1, 2, 0, 2, 1, 4, 2, 0, 1, 1, 1, 1, 0]);
  } finally {
    x.dispose();
  }
});

test('kcenter greedy adds the farthest direction each step, whatever the rows\' lengths', () => {
  // Directions 0°, 5°, 10° | 90°, 95° | 180°. From 0°: 180° (farthest), then 90° (90° from both; 95° is 85° from 180°).
  const x = atAngles([0, 5, 10, 90, 95, 180], [1, 7, 0.3, 2, 5, 0.1]);
  try {
    assert.deepEqual(kCenterGreedy(x, 3, 0), [0, 5, 3]);
    // From 95°: 0° is 95° away (farther than 180°'s 85°), then 180° (cover radius 85° at 180° vs ≤ 10° elsewhere).
    assert.deepEqual(kCenterGreedy(x, 3, 4), [4, 0, 5]);
    assert.throws(() => kCenterGreedy(x, 7, 0), /k must be an integer in \[1, 6\]/);
    const s = new KCenterSelector();
    assert.deepEqual(s.needs, { features: true });
    assert.deepEqual(new KCenterSelector('learner').needs, { learnerFeatures: true });
    // Three directions, any seeded start: one from each group (0–10°, 90–95°, 180°).
    const groups = [0, 0, 0, 1, 1, 2];
    const firsts = new Set<number>();
    for (let b = 0; b < 20; b++) {
      const kept = s.select(ctx(6, 3, { features: x, batchIndex: b }));
      firsts.add(kept[0]!);
      assert.deepEqual(new Set(kept.map((i) => groups[i])), new Set([0, 1, 2]), `batch ${b}: ${kept}`);
    }
    assert.ok(firsts.size > 1, 'the first point is drawn, not fixed');
    assert.throws(() => s.select(ctx(6, 3)), /no features/);
  } finally {
    x.dispose();
  }
});

test('craig keeps one sample per cluster, weighted by the cluster sizes (average 1 over the kept)', () => {
  // Clusters of 5, 3 and 2 around 0°, 120° and 240°, each a few degrees wide.
  const angles = [0, 2, -2, 4, -4, 120, 123, 117, 240, 243];
  const x = atAngles(angles);
  try {
    const fl = facilityLocation(x, 3);
    // The first pick covers the biggest cluster (gain ≈ 5·2 + 5·0.5 against 3·2 + 7·0.5); each
    // row's nearest kept one is its own cluster's.
    const cluster = (i: number): number => (i < 5 ? 0 : i < 8 ? 1 : 2);
    assert.equal(cluster(fl.indices[0]!), 0);
    assert.deepEqual(fl.indices.map(cluster).sort(), [0, 1, 2]);
    assert.deepEqual(fl.counts, fl.indices.map((i) => [5, 3, 2][cluster(i)]));
    assert.equal(fl.counts.reduce((a, v) => a + v, 0), 10, 'the counts sum to B');
    const s = new CraigSelector();
    assert.deepEqual(s.needs, { features: true });
    const c = ctx(10, 3, { features: x });
    const kept = s.select(c);
    assert.deepEqual(kept, fl.indices);
    const w = Array.from(s.weights!(kept.map((i) => c.ids[i]!)));
    // w = count·k/B: 5·0.3, 3·0.3, 2·0.3 in the kept order; they sum to k, averaging 1.
    const expected = kept.map((i) => [1.5, 0.9, 0.6][cluster(i)]!);
    w.forEach((v, j) => assert.ok(Math.abs(v - expected[j]!) < 1e-6, `weight ${j}: ${v} vs ${expected[j]}`));
    assert.ok(Math.abs(w.reduce((a, v) => a + v, 0) - 3) < 1e-6);
    // A loss constant within each cluster: the weighted mean over the kept equals the batch's mean.
    const loss = [1, 4, 10];
    const batchMean = angles.reduce((a, _, i) => a + loss[cluster(i)]!, 0) / 10;
    const keptMean = kept.reduce((a, i, j) => a + w[j]! * loss[cluster(i)]!, 0) / 3;
    assert.ok(Math.abs(keptMean - batchMean) < 1e-6, `${keptMean} vs ${batchMean}`);
    // Ids from another batch: a batch kept whole weighs 1 each; a mix is a bug.
    assert.deepEqual(Array.from(s.weights!(['other1', 'other2'])), [1, 1]);
    assert.throws(() => s.weights!([c.ids[kept[0]!]!, 'other']), /only 1 were in the last selection/);
  } finally {
    x.dispose();
  }
});

test('craig unweighted keeps the same samples and gives no weights, so they train at weight 1', () => {
  const x = atAngles([0, 2, -2, 4, -4, 120, 123, 117, 240, 243]);
  try {
    const c = ctx(10, 3, { features: x });
    const weighted = createSelector('craig', { craigWeights: true });
    const plain = createSelector('craig', { craigWeights: false });
    assert.deepEqual(plain.select(c), weighted.select(c));
    assert.equal(typeof weighted.weights, 'function');
    assert.equal(plain.weights, undefined);
  } finally {
    x.dispose();
  }
});

test('craig\'s greedy maximizes facility location step by step', () => {
  // 0°, 10°, 20°, 30° and a lone 180°: the expected picks come from F itself, over every candidate
  // (a float64 recomputation of sim = 1 + cos; the engine gets float32 rows, hence the tolerance).
  const angles = [0, 10, 20, 30, 180];
  const x = atAngles(angles);
  try {
    const sim = (a: number, b: number): number => 1 + Math.cos(((a - b) * Math.PI) / 180);
    const F = (set: number[]): number => angles.reduce((acc, a) => acc + Math.max(...set.map((j) => sim(a, angles[j]!))), 0);
    const first = [0, 1, 2, 3, 4].reduce((best, j) => (F([j]) > F([best]) ? j : best), 0);
    const second = [0, 1, 2, 3, 4].filter((j) => j !== first).reduce((best, j) => (F([first, j]) > F([first, best]) ? j : best), first === 0 ? 1 : 0);
    const fl = facilityLocation(x, 2);
    assert.deepEqual(fl.indices, [first, second]);
    assert.ok(Math.abs(fl.objective - F(fl.indices)) < 1e-5, `${fl.objective} vs ${F(fl.indices)}`);
  } finally {
    x.dispose();
  }
});

/** Two tight clusters of 6 in 4-D and 4 samples between them (the saln test's batch). */
function twoClusters(): Tensor {
  const rows: number[][] = [];
  for (let i = 0; i < 6; i++) rows.push([1, 0.01 * i, 0, 0.02 * ((i * 7) % 5)]);
  for (let i = 0; i < 6; i++) rows.push([0, 1, 0.01 * i, 0.015 * ((i * 3) % 4)]);
  rows.push([1, 1, 0.2, 0], [0.9, 1.1, 0, 0.3], [1, 0.8, 0.5, 0.1], [0.7, 1, 0.1, 0.6]);
  return tensor(rows);
}

test('the saln variants: default unchanged, the graph options passed through, and the two ranks', () => {
  const x = twoClusters();
  const b = 16;
  try {
    for (const k of [4, 8]) {
      const c = ctx(b, k, { features: x });
      const r = 1 - (k + 0.5) / b;
      const paper = selectSpectral(x, { filterRatio: r });
      assert.deepEqual(createSelector('saln').select(c), paper.indices, 'saln is the paper');
      assert.equal(createSelector('saln').name, 'saln');
      assert.deepEqual(createSelector('saln-clamp').select(c), selectSpectral(x, { filterRatio: r, clampNegative: true }).indices);
      assert.deepEqual(createSelector('saln-normalized').select(c), selectSpectral(x, { filterRatio: r, laplacian: 'symmetric', clampNegative: true }).indices);
      // The Fiedler vector splits the clusters by sign; stratified takes k/2 from each side.
      const f = paper.fiedler;
      const side = (i: number): boolean => f[i]! > 0;
      assert.ok([0, 1, 2, 3, 4, 5].every((i) => side(i) === side(0)) && [6, 7, 8, 9, 10, 11].every((i) => side(i) !== side(0)), 'f splits the clusters');
      const strat = createSelector('saln-stratified').select(c);
      assert.deepEqual(strat, stratifiedPositions(f, k));
      assert.equal(strat.filter(side).length, k / 2);
      // Smallest |f|: the samples between the clusters lie near f = 0.
      const small = createSelector('saln-smallest').select(c);
      assert.deepEqual(small, smallestPositions(paper.scores, k));
      if (k === 4) assert.deepEqual([...small].sort((p, q) => p - q), [12, 13, 14, 15]);
      assert.ok(!small.some((i) => paper.indices.slice(0, 4).includes(i)), 'smallest and largest |f| do not meet');
    }
    assert.equal(createSelector('saln-stratified').name, 'saln-stratified');
    assert.equal((createSelector('saln-smallest') as SalnSelector).spectral.solver, 'eigh', 'non-largest ranks solve for all of f');
    assert.equal((createSelector('saln') as SalnSelector).spectral.solver, 'auto');
    assert.deepEqual(createSelector('saln-clamp', { featureSource: 'pixels' }).needs, { pixels: true });
  } finally {
    x.dispose();
  }
});

test('stratifiedPositions and smallestPositions on hand-made vectors', () => {
  // Largest |f| is −0.9, so f is flipped: −f ascending = 0, 2, 4, 1, 3; ranks ⌊0.5·5/2⌋ = 1 and ⌊1.5·5/2⌋ = 3.
  assert.deepEqual(stratifiedPositions(Float64Array.from([0.5, -0.1, 0.3, -0.9, 0.2]), 2), [2, 1]);
  assert.deepEqual(stratifiedPositions(Float64Array.from([0.5, -0.1, 0.3, 0.9, 0.2]), 5), [1, 4, 2, 0, 3]);
  assert.deepEqual(smallestPositions(Float64Array.from([0.5, 0.1, 0.3, 0.1, 0.2]), 3), [1, 3, 4]);
});

test('saln-clamp on features with negative similarities: the clamped graph, not the plain one', () => {
  // Directions 0°..40° and 140°..180°: cosines across the groups are negative, clamped to 0.
  const x = atAngles([0, 10, 20, 30, 40, 140, 150, 160, 170, 180]);
  try {
    const c = ctx(10, 4, { features: x });
    const r = 1 - 4.5 / 10;
    const clamped = selectSpectral(x, { filterRatio: r, clampNegative: true });
    assert.deepEqual(createSelector('saln-clamp').select(c), clamped.indices);
    assert.notDeepEqual(Array.from(clamped.scores), Array.from(selectSpectral(x, { filterRatio: r }).scores), 'the clamped graph is another graph');
  } finally {
    x.dispose();
  }
});

const base: TrainConfig = {
  model: 'tiny-cnn', method: 'none', filterRatio: 0, epochs: 2, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 0,
  seed: 5, featureSource: 'cache', solver: 'auto', saveSelections: false,
};

for (const method of ['random-balanced', 'kcenter', 'craig', 'saln-clamp', 'saln-normalized', 'saln-stratified', 'saln-smallest'] as const) {
  test(`train() runs ${method} end to end: k of B trained per step, features only where declared`, async () => {
    const s = synthetic(9, { n: 48 });
    try {
      const r = await train({ config: { ...base, method, filterRatio: 0.75 }, data: s.data });
      const sum = r.summary!;
      assert.equal(sum.method, method);
      // 48 samples in batches of 16, 2 epochs: 6 steps of k = 4.
      assert.equal(sum.counts.optimizer_steps, 6);
      assert.equal(sum.counts.gradient_samples, 6 * keptCount(16, 0.75));
      assert.equal(sum.counts.feature_samples, method === 'random-balanced' ? 0 : 96);
      assert.ok(Number.isFinite(sum.test_loss));
      r.model.parameters().forEach((p) => p.dispose());
    } finally {
      s.free();
    }
  });
}

test('train() with craig unweighted: the same kept samples as weighted, another model, and the choice recorded', async () => {
  const s = synthetic(9, { n: 48 });
  const dirs = [mkdtempSync(join(tmpdir(), 'craig-w-')), mkdtempSync(join(tmpdir(), 'craig-u-'))];
  try {
    const cfg: TrainConfig = { ...base, method: 'craig', filterRatio: 0.75, saveSelections: true };
    const weighted = await train({ config: cfg, data: s.data, runDir: dirs[0]! });
    const plain = await train({ config: { ...cfg, craigWeights: false }, data: s.data, runDir: dirs[1]! });
    const firstKept = (d: string): string[] => (JSON.parse(readFileSync(join(d, 'selections.jsonl'), 'utf8').split('\n')[0]!) as { kept: string[] }).kept;
    // The first step sees the same model and batch: the same samples; their weights then make the runs differ.
    assert.deepEqual(firstKept(dirs[1]!), firstKept(dirs[0]!));
    const params = (r: typeof weighted): number[] => r.model.parameters().flatMap((p) => Array.from(p.toTypedArray<'float32'>()));
    assert.notDeepEqual(params(plain), params(weighted));
    assert.equal((JSON.parse(readFileSync(join(dirs[1]!, 'config.json'), 'utf8')) as TrainConfig).craigWeights, false);
    [weighted, plain].forEach((r) => r.model.parameters().forEach((p) => p.dispose()));
  } finally {
    s.free();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  }
});

test('facilityLocation assigns each row to its cluster; rho-diverse keeps the most learnable of each', () => {
  // Clusters of 5, 3 and 2 (as above); learnability peaks at a non-centre member of each cluster.
  const x = atAngles([0, 2, -2, 4, -4, 120, 123, 117, 240, 243]);
  try {
    const fl = facilityLocation(x, 3);
    const cluster = (i: number): number => (i < 5 ? 0 : i < 8 ? 1 : 2);
    fl.assignment.forEach((a, i) => assert.equal(cluster(fl.indices[a]!), cluster(i), `row ${i}`));
    const learner = Float32Array.from([1, 1, 1, 3, 1, 1, 1, 2.5, 2, 2]);
    const reference = Float32Array.from([0, 0, 0, 0, 2.9, 0, 0, 0, 1, 0]);
    const s = createSelector('rho-diverse');
    assert.deepEqual(s.needs, { features: true, learnerLoss: true, referenceLoss: true });
    const kept = s.select(ctx(10, 3, { features: x, learnerLoss: learner, referenceLoss: reference }));
    // Reducible losses 1, 1, 1, 3, −1.9 | 1, 1, 2.5 | 1, 2: rows 3, 7 and 9, one per cluster.
    assert.deepEqual([...kept].sort((a, b) => a - b), [3, 7, 9]);
    // Where one cluster is the most learnable everywhere, rho-loss takes three of it; rho-diverse one.
    const l2 = Float32Array.from([5.1, 5.2, 5, 6, 5.3, 1, 1, 2.5, 2, 2.2]);
    const z = new Float32Array(10);
    assert.deepEqual([...s.select(ctx(10, 3, { features: x, learnerLoss: l2, referenceLoss: z }))].sort((a, b) => a - b), [3, 7, 9]);
    assert.deepEqual([...createSelector('rho-loss').select(ctx(10, 3, { learnerLoss: l2, referenceLoss: z }))].sort((a, b) => a - b), [1, 3, 4]);
  } finally {
    x.dispose();
  }
});

test('rho-diverse fills the place of an empty cluster (duplicate rows) with the most learnable sample left', () => {
  // Four identical rows and one other: at k = 3 the greedy's third centre duplicates one already chosen.
  const x = atAngles([0, 0, 0, 0, 90]);
  try {
    const l = Float32Array.from([1, 4, 3, 2, 0.5]);
    const kept = createSelector('rho-diverse').select(ctx(5, 3, { features: x, learnerLoss: l, referenceLoss: new Float32Array(5) }));
    assert.equal(new Set(kept).size, 3);
    assert.deepEqual([...kept].sort((a, b) => a - b), [1, 2, 4]);
  } finally {
    x.dispose();
  }
});

test('lastLayerGradients: each row is the head\'s gradient (weights, then bias) of that sample\'s cross-entropy', () => {
  manualSeed(3);
  const fc = new Linear(4, 3);
  const h = randn([5, 4]);
  const y = tensor([0, 2, 1, 1, 0], { dtype: 'int64' });
  const emb = noGrad(() => lastLayerGradients(h, fc.forward(h), y));
  try {
    assert.deepEqual(emb.shape, [5, 3 * 5]);
    const flat = emb.toArray() as number[];
    for (let i = 0; i < 5; i++) {
      fc.zeroGrad();
      tidy(() => F.crossEntropy(fc.forward(h.narrow(0, i, 1)), y.narrow(0, i, 1)).backward());
      const w = fc.weight.grad!.toArray() as number[];
      const b = fc.bias!.grad!.toArray() as number[];
      const expected = [0, 1, 2].flatMap((c) => [...w.slice(4 * c, 4 * c + 4), b[c]!]);
      assertClose(flat.slice(15 * i, 15 * (i + 1)), expected, { atol: 1e-6 });
    }
  } finally {
    [h, y, emb].forEach((t) => t.dispose());
    fc.parameters().forEach((p) => p.dispose());
  }
});

test('the gradient source: one scoring forward per drawn sample gives the embedding, and rho-diverse its losses too', async () => {
  const s = synthetic(9, { n: 48 });
  const reference = new TinyCNN(3);
  try {
    const c = await train({ config: { ...base, method: 'craig', featureSource: 'gradient', filterRatio: 0.75 }, data: s.data });
    assert.equal(c.summary!.counts.feature_samples, 96);
    assert.equal(c.summary!.counts.scored_samples, 96);
    assert.equal(c.summary!.counts.gradient_samples, 6 * 4);
    c.model.parameters().forEach((p) => p.dispose());
    const r = await train({ config: { ...base, method: 'rho-diverse', featureSource: 'gradient', filterRatio: 0.75, referenceScores: 'precomputed' }, data: s.data, reference });
    assert.equal(r.summary!.counts.scored_samples, 96);
    assert.equal(r.summary!.counts.reference_samples, 48);
    assert.equal(r.summary!.counts.gradient_samples, 6 * 4);
    assert.ok(Number.isFinite(r.summary!.test_loss));
    r.model.parameters().forEach((p) => p.dispose());
  } finally {
    reference.parameters().forEach((p) => p.dispose());
    s.free();
  }
});
