import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineError, ones, randn, tensor } from '../../src/tensor/index.js';
import { F } from '../../src/nn/index.js';

test('a libtorch error becomes an EngineError naming the op, shapes and dtypes', () => {
  const a = randn([2, 3]);
  const b = randn([2, 3]);
  assert.throws(() => a.matmul(b), (e: unknown) => {
    assert.ok(e instanceof EngineError);
    assert.equal(e.op, 'matmul');
    assert.match(e.message, /matmul: .*2x3 and 2x3/);
    assert.match(e.message, /inputs: float32\[2,3\], float32\[2,3\]/);
    return true;
  });
});

test('shape mismatch in conv2d names the op and the shapes', () => {
  const x = randn([1, 3, 8, 8]);
  const w = randn([4, 5, 3, 3]);
  assert.throws(() => F.conv2d(x, w), (e: unknown) => e instanceof EngineError && /conv2d/.test(e.message) && /float32\[1,3,8,8\]/.test(e.message) && /float32\[4,5,3,3\]/.test(e.message));
});

test('dtype mismatch is reported, not aborted', () => {
  const logits = randn([2, 3]);
  const target = tensor([0, 1], { dtype: 'int64' });
  assert.throws(() => F.crossEntropy(logits, target.to('float32')), /Expected an int64 tensor/);
  assert.throws(() => logits.matmul(ones([3, 2], { dtype: 'float64' })), (e: unknown) => e instanceof EngineError && /float32\[2,3\], float64\[3,2\]/.test(e.message));
});

test('use after dispose is an error, and dispose is idempotent', () => {
  const a = ones([2]);
  a.dispose();
  a.dispose();
  assert.ok(a.isDisposed);
  assert.throws(() => a.add(1), (e: unknown) => e instanceof EngineError && /disposed/.test(e.message));
  assert.throws(() => a.toTypedArray(), /disposed/);
});

test('argument validation reads "Expected … for … but received …"', () => {
  assert.throws(() => ones([2, -1]), /Expected an array of non-negative integers for shape but received \[2, -1\]/);
  assert.throws(() => ones([2]).sum(3), /Expected an integer between -1 and 0 for dim but received 3/);
  assert.throws(() => ones([2]).backward(), /only for scalar outputs/);
});
