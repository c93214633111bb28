/** Reading selection examples (with the 2-D PCA) and final-layer weights from run-directory files. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { saveSafetensors } from '../../src/io/safetensors.js';
import { pca2 } from '../../src/reports/pca.js';
import { readSelectionExamples } from '../../src/reports/selection.js';
import { binMatrix, histogram, readFcWeights } from '../../src/reports/weights.js';
import { eigh, manualSeed, randn, tensor, tidy } from '../../src/tensor/index.js';
import { writeSelectionFixture } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'report-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const sub = (name: string): string => mkdtempSync(join(dir, `${name}-`));

const dist = (p: number[], q: number[]): number => Math.sqrt(p.reduce((a, v, i) => a + (v - q[i]!) ** 2, 0));

test('selection examples: batches in order, kept positions, and a PCA that keeps rank-2 geometry (covariance and Gram paths)', () => {
  const d = sub('sel');
  const { points, kept } = writeSelectionFixture(d);
  const s = readSelectionExamples(d)!;
  assert.equal(s.total, 2);
  assert.equal(s.metadata.feature_source, 'pixels');
  assert.deepEqual(s.batches.map((b) => [b.epoch, b.batch, b.size]), [[0, 0, 12], [0, 1, 6]]);
  s.batches.forEach((b, bi) => {
    assert.deepEqual([...b.kept].sort((x, y) => x - y), kept[bi]);
    // Rank-2 data: the 2-D projection is an isometry, so every pairwise distance survives.
    const p = points[bi]!;
    for (let i = 0; i < b.size; i++) for (let j = i + 1; j < b.size; j++) {
      const d2 = Math.hypot(b.coords[2 * i]! - b.coords[2 * j]!, b.coords[2 * i + 1]! - b.coords[2 * j + 1]!);
      assert.ok(Math.abs(d2 - dist(p[i]!, p[j]!)) < 1e-4, `batch ${bi}: distance ${i}-${j}: ${d2} vs ${dist(p[i]!, p[j]!)}`);
    }
    assert.ok(Math.abs(b.explained[0] + b.explained[1] - 1) < 1e-6, 'two components explain all of rank-2 data');
    assert.ok(b.explained[0] >= b.explained[1]);
    const c1 = Array.from({ length: b.size }, (_, i) => b.coords[2 * i]!);
    assert.ok(Math.abs(c1.reduce((a, v) => a + v, 0)) < 1e-6, 'centred');
  });
  assert.equal(readSelectionExamples(d, { maxBatches: 1 })!.batches.length, 1);
  assert.equal(readSelectionExamples(sub('empty')), null, 'no file: null');
});

test('the Gram path (D > B) gives the covariance projection, up to sign, on full-rank data', () => {
  manualSeed(3);
  const x = randn([6, 10]);
  const got = pca2(x);
  // The reference: the top-2 eigenvectors of the 10x10 covariance, projected.
  const want = tidy(() => {
    const xc = x.to('float64').sub(x.to('float64').mean(0, true));
    const [, v] = eigh(xc.transpose(0, 1).matmul(xc));
    return xc.matmul(v.narrow(1, 8, 2).flip(1)).toTypedArray<'float64'>() as Float64Array;
  });
  for (let c = 0; c < 2; c++) {
    const sign = Math.sign(got.coords[c]!) === Math.sign(want[c]!) ? 1 : -1;
    for (let i = 0; i < 6; i++) assert.ok(Math.abs(got.coords[2 * i + c]! - sign * want[2 * i + c]!) < 1e-4, `component ${c}, sample ${i}`);
  }
  assert.ok(got.explained[0] >= got.explained[1] && got.explained[0] + got.explained[1] < 1);
  x.dispose();
  assert.throws(() => pca2(tensor([1, 2, 3])), /expected features \[B, D\]/);
});

test('a kept position outside the batch, or half a batch, is an error naming the file and tensor', () => {
  const d = sub('badsel');
  const f = tensor([[1, 2], [3, 4], [5, 6]]);
  const k = tensor(BigInt64Array.from([0n, 7n]));
  saveSafetensors(join(d, 'selection_examples.safetensors'), { 'epoch1.batch0.features': f, 'epoch1.batch0.kept': k });
  assert.throws(() => readSelectionExamples(d), /selection_examples\.safetensors: epoch1\.batch0\.kept holds position 7, outside the batch of 3/);
  saveSafetensors(join(d, 'selection_examples.safetensors'), { 'epoch1.batch0.features': f });
  assert.throws(() => readSelectionExamples(d), /epoch1\.batch0 needs both \.features and \.kept/);
  f.dispose();
  k.dispose();
});

test('fc weights: model.fc.weight binned for the heatmap, every value in the histogram; fallback and error', () => {
  const d = sub('ck');
  const vals = Array.from({ length: 3 * 200 }, (_, i) => (i % 200) - 100 + Math.floor(i / 200) * 1000);
  const w = tensor(vals, { shape: [3, 200] });
  const conv = tensor(new Float32Array(2 * 3 * 3 * 3), { shape: [2, 3, 3, 3] });
  saveSafetensors(join(d, 'checkpoint.safetensors'), { 'model.conv1.weight': conv, 'model.fc.weight': w, 'model.fc.bias': tensor([0, 0, 0]) });
  const r = readFcWeights(d)!;
  assert.equal(r.key, 'model.fc.weight');
  assert.deepEqual([r.rows, r.cols, r.heat.rows, r.heat.cols, r.heat.colBin, r.heat.rowBin], [3, 200, 3, 100, 2, 1]);
  assert.equal(r.heat.values[0], -99.5, 'mean of features 0 and 1 of class 0');
  assert.equal(r.heat.values[100], 1000 - 99.5, 'class 1 starts its row');
  assert.equal(r.histogram.reduce((a, h) => a + h.count, 0), 600);
  // No fc: the last 2-D model.*.weight.
  saveSafetensors(join(d, 'checkpoint.safetensors'), { 'model.a.weight': tensor([[1, 2]]), 'model.head.weight': w, 'model.conv1.weight': conv });
  assert.equal(readFcWeights(d)!.key, 'model.head.weight');
  saveSafetensors(join(d, 'checkpoint.safetensors'), { 'model.conv1.weight': conv });
  assert.throws(() => readFcWeights(d), /checkpoint\.safetensors: no 2-D model\.\*\.weight tensor/);
  assert.equal(readFcWeights(sub('nock')), null);
  w.dispose();
  conv.dispose();
});

test('binMatrix and histogram on small known inputs', () => {
  const b = binMatrix([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 3, 4, 2, 2);
  assert.deepEqual([b.rows, b.cols, b.rowBin, b.colBin], [2, 2, 2, 2]);
  assert.deepEqual([...b.values], [(1 + 2 + 5 + 6) / 4, (3 + 4 + 7 + 8) / 4, (9 + 10) / 2, (11 + 12) / 2]);
  const h = histogram([0, 1, 1, 2, 4], 4);
  assert.deepEqual(h.map((x) => x.count), [1, 2, 1, 1]);
  assert.deepEqual([h[0]!.lo, h[3]!.hi], [0, 4]);
  assert.deepEqual(histogram([3, 3]), [{ lo: 3, hi: 3, count: 2 }]);
});
