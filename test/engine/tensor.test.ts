import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  arange, cat, eigh, full, manualSeed, ones, rand, randint, randn, randperm, stack, tensor, tidy, where, zeros,
} from '../../src/tensor/index.js';
import { assertClose } from '../helpers.js';

test('creation from typed arrays and nested arrays keeps values, shape and dtype', () => {
  const a = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
  assert.deepEqual(a.shape, [2, 3]);
  assert.equal(a.dtype, 'float32');
  assert.deepEqual(a.toArray(), [1, 2, 3, 4, 5, 6]);
  const b = tensor([[1, 2], [3, 4]], { dtype: 'int64' });
  assert.equal(b.dtype, 'int64');
  assert.deepEqual([...b.toTypedArray()], [1n, 2n, 3n, 4n]);
  for (const dtype of ['float64', 'int32', 'uint8', 'bool'] as const) {
    const t = tensor([0, 1, 1, 0], { dtype });
    assert.equal(t.dtype, dtype);
    assert.deepEqual(t.toArray(), [0, 1, 1, 0]);
  }
  assert.throws(() => tensor(new Float32Array(5), { shape: [2, 3] }), /needs 6 elements/);
  assert.throws(() => tensor([[1, 2], [3]]), /ragged/);
});

test('factories: zeros, ones, full, arange, eye-like values', () => {
  assert.deepEqual(zeros([2, 2]).toArray(), [0, 0, 0, 0]);
  assert.deepEqual(ones([3], { dtype: 'int32' }).toArray(), [1, 1, 1]);
  assert.deepEqual(full([2], 7.5).toArray(), [7.5, 7.5]);
  const r = arange(0, 5);
  assert.equal(r.dtype, 'int64');
  assert.deepEqual(r.toArray(), [0, 1, 2, 3, 4]);
  assertClose(arange(0, 1, 0.25).toArray(), [0, 0.25, 0.5, 0.75]);
});

test('manualSeed makes randn, rand, randint and randperm reproducible', () => {
  const draw = () => [randn([5]).toArray(), rand([5]).toArray(), randint(0, 10, [5]).toArray(), randperm(6).toArray()];
  manualSeed(42);
  const a = draw();
  manualSeed(42);
  const b = draw();
  assert.deepEqual(a, b);
  manualSeed(43);
  assert.notDeepEqual(draw()[0], a[0]);
  const p = [...b[3]!].sort();
  assert.deepEqual(p, [0, 1, 2, 3, 4, 5]);
});

test('elementwise ops and broadcasting follow PyTorch', () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  const row = tensor([10, 20, 30]);
  assert.deepEqual(a.add(row).toArray(), [11, 22, 33, 14, 25, 36]);
  assert.deepEqual(a.mul(2).sub(1).toArray(), [1, 3, 5, 7, 9, 11]);
  assertClose(a.div(4).toArray(), [0.25, 0.5, 0.75, 1, 1.25, 1.5]);
  assert.deepEqual(a.neg().abs().toArray(), [1, 2, 3, 4, 5, 6]);
  assertClose(a.exp().log().toArray(), [1, 2, 3, 4, 5, 6], { rtol: 1e-6 });
  assertClose(a.sqrt().square().toArray(), [1, 2, 3, 4, 5, 6], { rtol: 1e-6 });
  assert.deepEqual(a.clamp(2, 5).toArray(), [2, 2, 3, 4, 5, 5]);
  assert.deepEqual(a.gt(3).toArray(), [0, 0, 0, 1, 1, 1]);
  assert.equal(a.gt(3).dtype, 'bool');
  assert.deepEqual(where(a.gt(3), a, zeros([2, 3])).toArray(), [0, 0, 0, 4, 5, 6]);
  assert.deepEqual(tensor([-1, 0, 2]).relu().toArray(), [0, 0, 2]);
});

test('reductions over all elements and over dims', () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  assert.equal(a.sum().item(), 21);
  assert.deepEqual(a.sum(0).toArray(), [5, 7, 9]);
  assert.deepEqual(a.mean(1, true).shape, [2, 1]);
  assert.deepEqual(a.mean(-1).toArray(), [2, 5]);
  assert.deepEqual(a.amax(1).toArray(), [3, 6]);
  assert.deepEqual(a.argmax(1).toArray(), [2, 2]);
  assertClose(a.var(1).toArray(), [1, 1]);
  assertClose(a.var(1, { correction: 0 }).toArray(), [2 / 3, 2 / 3], { rtol: 1e-6 });
  assertClose([a.norm().item()], [Math.sqrt(91)], { rtol: 1e-6 });
  assertClose(a.norm(2, 1).toArray(), [Math.sqrt(14), Math.sqrt(77)], { rtol: 1e-6 });
  assertClose(a.softmax(1).sum(1).toArray(), [1, 1], { rtol: 1e-6 });
  assertClose(a.logSoftmax(1).exp().sum(1).toArray(), [1, 1], { rtol: 1e-6 });
});

test('shape ops: reshape, permute, transpose, cat, stack, indexSelect, gather, flip, slice', () => {
  const a = arange(0, 6).reshape(2, 3);
  assert.deepEqual(a.T.contiguous().toArray(), [0, 3, 1, 4, 2, 5]);
  assert.deepEqual(a.permute(1, 0).shape, [3, 2]);
  assert.deepEqual(a.unsqueeze(0).shape, [1, 2, 3]);
  assert.deepEqual(a.unsqueeze(0).squeeze(0).shape, [2, 3]);
  assert.deepEqual(cat([a, a], 0).shape, [4, 3]);
  assert.deepEqual(cat([a, a], -1).shape, [2, 6]);
  assert.deepEqual(stack([a, a], 0).shape, [2, 2, 3]);
  assert.deepEqual(a.indexSelect(1, tensor([2, 0], { dtype: 'int64' })).toArray(), [2, 0, 5, 3]);
  assert.deepEqual(a.gather(1, tensor([[1], [2]], { dtype: 'int64' })).toArray(), [1, 5]);
  assert.deepEqual(a.flip(1).toArray(), [2, 1, 0, 5, 4, 3]);
  assert.deepEqual(a.slice(1, 1, 3).toArray(), [1, 2, 4, 5]);
  assert.deepEqual(a.flatten().shape, [6]);
  const x = randn([2, 3, 4, 5]);
  assert.ok(x.contiguous('channels_last').isContiguous('channels_last'));
});

test('topk, sort/argsort (stable), abs', () => {
  const a = tensor([3, -7, 1, 7, 0]);
  const [v, i] = a.abs().topk(2);
  assert.deepEqual(v.toArray(), [7, 7]);
  assert.deepEqual(new Set(i.toArray()), new Set([1, 3]));
  assert.deepEqual(tensor([2, 1, 2, 0]).argsort().toArray(), [3, 1, 0, 2]);
  assert.deepEqual(tensor([2, 1, 2, 0]).argsort({ descending: true }).toArray(), [0, 2, 1, 3]);
});

test('eigh matches a known spectrum and reconstructs the matrix', () => {
  const m = tensor([[2, 1, 0], [1, 2, 0], [0, 0, 5]], { dtype: 'float64' });
  const [w, v] = eigh(m);
  assertClose(w.toArray(), [1, 3, 5], { rtol: 1e-12 });
  const back = v.matmul(w.diagEmbed()).matmul(v.T);
  assertClose(back.toArray(), m.toArray(), { atol: 1e-12 });
  assert.throws(() => eigh(tensor([1, 2, 3])), /square matrix/);
});

test('dtype conversion and device queries', () => {
  const a = tensor([1.7, -2.2]);
  assert.equal(a.to('float64').dtype, 'float64');
  assert.deepEqual(a.to('int64').toArray(), [1, -2]);
  assert.equal(a.device, 'cpu');
  assert.equal(a.to({ device: 'cpu' }).device, 'cpu');
});

test('tidy disposes intermediates and keeps the result', () => {
  let inner: ReturnType<typeof ones> | undefined;
  const out = tidy(() => {
    inner = ones([3]);
    return inner.mul(2);
  });
  assert.ok(inner!.isDisposed);
  assert.ok(!out.isDisposed);
  assert.deepEqual(out.toArray(), [2, 2, 2]);
  const pair = tidy(() => ({ a: ones([1]), b: [zeros([1])] }));
  assert.ok(!pair.a.isDisposed && !pair.b[0]!.isDisposed);
  let thrownInner: ReturnType<typeof ones> | undefined;
  assert.throws(() => tidy(() => {
    thrownInner = ones([2]);
    throw new Error('boom');
  }), /boom/);
  assert.ok(thrownInner!.isDisposed);
});
