import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isGradEnabled, noGrad, randn, tensor } from '../../src/tensor/index.js';
import { F } from '../../src/nn/index.js';
import { assertClose } from '../helpers.js';

test('backward computes analytic gradients', () => {
  const x = tensor([1, 2, 3]).requiresGrad_();
  const y = x.mul(x).sum(); // d/dx = 2x
  y.backward();
  assertClose(x.grad!.toArray(), [2, 4, 6]);
  // gradients accumulate until cleared
  x.mul(3).sum().backward();
  assertClose(x.grad!.toArray(), [5, 7, 9]);
  x.clearGrad();
  assert.equal(x.grad, null);
});

test('cross-entropy gradient equals softmax minus one-hot over N', () => {
  const logits = tensor([[1, 2, 0.5], [0, 0, 3]]).requiresGrad_();
  const target = tensor([1, 2], { dtype: 'int64' });
  F.crossEntropy(logits, target).backward();
  const p = noGrad(() => logits.softmax(1)).toArray();
  const expected = p.map((v, i) => (v - ((i === 1 || i === 5) ? 1 : 0)) / 2);
  assertClose(logits.grad!.toArray(), expected, { rtol: 1e-5, atol: 1e-7 });
});

test('noGrad turns recording off and restores it', () => {
  const w = randn([3]).requiresGrad_();
  assert.ok(isGradEnabled());
  const y = noGrad(() => {
    assert.ok(!isGradEnabled());
    return w.mul(2);
  });
  assert.ok(isGradEnabled());
  assert.equal(y.requiresGrad, false);
  assert.equal(w.mul(2).requiresGrad, true);
  assert.throws(() => noGrad(() => { throw new Error('x'); }));
  assert.ok(isGradEnabled(), 'restored after a throw');
});

test('cross-entropy reductions and label smoothing match the closed form', () => {
  const logits = tensor([[2, 0, 0], [0, 1, 0]]);
  const target = tensor([0, 2], { dtype: 'int64' });
  const lse = (r: number[]) => Math.log(r.reduce((a, v) => a + Math.exp(v), 0));
  const rows = [[2, 0, 0], [0, 1, 0]];
  const per = [lse(rows[0]!) - 2, lse(rows[1]!) - 0];
  assertClose(F.crossEntropy(logits, target, { reduction: 'none' }).toArray(), per, { rtol: 1e-6 });
  assertClose([F.crossEntropy(logits, target).item()], [(per[0]! + per[1]!) / 2], { rtol: 1e-6 });
  assertClose([F.crossEntropy(logits, target, { reduction: 'sum' }).item()], [per[0]! + per[1]!], { rtol: 1e-6 });
  // label smoothing e: (1-e)·nll + e·mean_c(−log p_c)
  const e = 0.1;
  const smooth = rows.map((r, i) => {
    const l = lse(r);
    const nll = per[i]!;
    const uni = r.reduce((a, v) => a + (l - v), 0) / 3;
    return (1 - e) * nll + e * uni;
  });
  assertClose(F.crossEntropy(logits, target, { reduction: 'none', labelSmoothing: e }).toArray(), smooth, { rtol: 1e-6 });
});
