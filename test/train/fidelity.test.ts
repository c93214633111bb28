/** The gradient-fidelity math of bench:gradient-fidelity (src/train/fidelity.ts), against hand values and the trainer's step. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SGD } from '../../src/optim/sgd.js';
import { cat, manualSeed, randn, tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { compareGradients, meanLossGradient, TinyCNN } from '../../src/train/index.js';
import { backwardStep } from '../../src/train/step.js';

/** Float64 like meanLossGradient's output. */
const f64 = (v: number[]): Tensor => tensor(Float64Array.from(v));
const close = (a: number, b: number, tol: number, what: string): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('compareGradients: relative error and cosine of hand-made vectors', () => {
  tidy(() => {
    const c1 = compareGradients(f64([1, 0]), f64([0, 1]));
    close(c1.relError, Math.SQRT2, 1e-12, 'orthogonal rel');
    close(c1.cosine, 0, 1e-12, 'orthogonal cos');
    const c2 = compareGradients(f64([2, 0, 0]), f64([1, 0, 0]));
    close(c2.relError, 1, 1e-12, 'twice as long');
    close(c2.cosine, 1, 1e-12, 'same direction');
    const c3 = compareGradients(f64([-3, 4]), f64([3, 4]));
    close(c3.relError, 6 / 5, 1e-12, 'mirrored rel');
    close(c3.cosine, 7 / 25, 1e-12, 'mirrored cos');
  });
});

/** A TinyCNN in eval mode (BatchNorm on running statistics: the loss is a plain mean over samples) and a batch of 8. */
function setup(): { model: TinyCNN; x: Tensor; y: Tensor; free(): void } {
  manualSeed(3);
  const model = new TinyCNN(3);
  model.eval();
  const x = randn([8, 3, 8, 8]);
  const y = tensor([0, 1, 2, 0, 1, 2, 0, 1], { dtype: 'int64' });
  return { model, x, y, free: () => [x, y, ...model.parameters()].forEach((t) => t.dispose()) };
}

test('keeping every sample (in any order, weights 1) gives relative error 0 and cosine 1', () => {
  const s = setup();
  try {
    tidy(() => {
      const full = meanLossGradient(s.model, s.x, s.y);
      assert.equal(full.shape[0], s.model.parameters().reduce((a, p) => a + p.numel, 0), 'every parameter, flattened');
      assert.ok(full.norm().item() > 0);
      const all = meanLossGradient(s.model, s.x, s.y, [7, 6, 5, 4, 3, 2, 1, 0], new Float32Array(8).fill(1));
      const c = compareGradients(all, full);
      close(c.relError, 0, 1e-6, 'rel');
      close(c.cosine, 1, 1e-9, 'cos');
      const half = compareGradients(meanLossGradient(s.model, s.x, s.y, [0, 1, 2, 3]), full);
      assert.ok(half.relError > 1e-3 && half.cosine < 1 - 1e-6, 'a half batch is not the full one');
    });
  } finally {
    s.free();
  }
});

test('the kept gradient is the (weighted) mean of the per-sample gradients', () => {
  const s = setup();
  try {
    tidy(() => {
      const each = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => meanLossGradient(s.model, s.x, s.y, [i]));
      const full = meanLossGradient(s.model, s.x, s.y);
      const mean = each.reduce((a, g) => a.add(g)).div(8);
      close(full.sub(mean).norm().item() / full.norm().item(), 0, 1e-5, 'full = mean of per-sample');
      // Kept [1, 4, 6] with weights [2, 0.5, 0.5]: (2·g1 + 0.5·g4 + 0.5·g6) / 3.
      const w = Float32Array.from([2, 0.5, 0.5]);
      const sel = meanLossGradient(s.model, s.x, s.y, [1, 4, 6], w);
      const byHand = each[1]!.mul(2).add(each[4]!.mul(0.5)).add(each[6]!.mul(0.5)).div(3);
      close(sel.sub(byHand).norm().item() / byHand.norm().item(), 0, 1e-5, 'weighted subset');
    });
  } finally {
    s.free();
  }
});

test('meanLossGradient is the gradient the trainer\'s step takes (kept and weighted)', () => {
  const s = setup();
  try {
    const kept = [5, 0, 3];
    const weights = Float32Array.from([1.5, 0.9, 0.6]);
    const optimizer = new SGD(s.model.parameters(), { lr: 0.1 });
    backwardStep({ x: s.x, y: s.y, ids: Array.from({ length: 8 }, (_, i) => `s${i}`), index: 0 }, kept, { model: s.model, optimizer, weights, perSample: true });
    tidy(() => {
      const trainer = cat(s.model.parameters().map((p) => p.grad!.flatten().to('float64')));
      const ours = meanLossGradient(s.model, s.x, s.y, kept, weights);
      close(compareGradients(ours, trainer).relError, 0, 1e-6, 'same gradient');
    });
    assert.ok(s.model.parameters().every((p) => p.grad === null), 'meanLossGradient leaves the grads cleared');
  } finally {
    s.free();
  }
});
