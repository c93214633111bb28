import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, F, Linear, MaxPool2d, Module, ReLU, Sequential } from '../../src/nn/index.js';
import { arange, manualSeed, noGrad, ones, randn, tensor, type Tensor } from '../../src/tensor/index.js';
import { assertClose } from '../helpers.js';

class Net extends Module {
  readonly features = this.registerModule('features', new Sequential(new Conv2d(3, 4, 3, { padding: 1 }), new BatchNorm2d(4), new ReLU()));
  readonly fc = this.registerModule('fc', new Linear(4, 2));
  forward(x: Tensor): Tensor {
    return this.fc.forward(F.adaptiveAvgPool2d(this.features.forward(x), 1).flatten(1));
  }
}

test('state dict keys and order are PyTorch\'s', () => {
  const keys = [...new Net().stateDict().keys()];
  assert.deepEqual(keys, [
    'features.0.weight', 'features.0.bias',
    'features.1.weight', 'features.1.bias', 'features.1.running_mean', 'features.1.running_var', 'features.1.num_batches_tracked',
    'fc.weight', 'fc.bias',
  ]);
  assert.equal(new Net().parameters().length, 6);
});

test('registration rejects dotted and duplicate names', () => {
  class Bad extends Module {
    forward(x: Tensor): Tensor { return x; }
  }
  const m = new Bad();
  assert.throws(() => m.registerParameter('a.b', ones([1])), /contain no "\."/);
  m.registerBuffer('x', ones([1]));
  assert.throws(() => m.registerModule('x', new ReLU()), /already registered/);
});

test('loadStateDict copies values, checks keys and shapes', () => {
  manualSeed(1);
  const a = new Net();
  const b = new Net();
  b.loadStateDict(a.stateDict());
  const x = randn([2, 3, 5, 5]);
  a.eval();
  b.eval();
  assert.deepEqual(noGrad(() => b.forward(x)).toArray(), noGrad(() => a.forward(x)).toArray());
  const sd = a.stateDict();
  sd.delete('fc.bias');
  assert.throws(() => b.loadStateDict(sd), /missing keys: fc.bias/);
  const sd2 = a.stateDict();
  sd2.set('fc.bias', ones([3]));
  assert.throws(() => b.loadStateDict(sd2), /size mismatch for fc.bias: the file has \[3\], the model has \[2\]/);
  const sd3 = a.stateDict();
  sd3.set('extra', ones([1]));
  assert.throws(() => b.loadStateDict(sd3), /unexpected keys: extra/);
  assert.deepEqual(b.loadStateDict(sd3, { strict: false }).unexpected, ['extra']);
});

test('train()/eval() recurse and return this', () => {
  const n = new Net();
  assert.equal(n.eval(), n);
  assert.ok([...n.namedModules()].every(([, m]) => !m.training));
  n.train();
  assert.ok([...n.namedModules()].every(([, m]) => m.training));
});

test('BatchNorm2d: batch stats in train, running stats updated with momentum and unbiased variance', () => {
  const bn = new BatchNorm2d(1);
  const x = tensor([1, 2, 3, 6], { shape: [4, 1, 1, 1] });
  const y = bn.forward(x);
  const mean = 3;
  const varPop = (4 + 1 + 0 + 9) / 4;
  const varUnb = (4 + 1 + 0 + 9) / 3;
  assertClose(y.toArray(), [1, 2, 3, 6].map((v) => (v - mean) / Math.sqrt(varPop + 1e-5)), { rtol: 1e-5 });
  assertClose(bn.runningMean!.toArray(), [0.1 * mean], { rtol: 1e-6 });
  assertClose(bn.runningVar!.toArray(), [0.9 + 0.1 * varUnb], { rtol: 1e-6 });
  assert.equal(bn.numBatchesTracked!.item(), 1);
  bn.eval();
  const z = bn.forward(x);
  assertClose(z.toArray(), [1, 2, 3, 6].map((v) => (v - 0.3) / Math.sqrt(0.9 + 0.1 * varUnb + 1e-5)), { rtol: 1e-5 });
  assert.equal(bn.numBatchesTracked!.item(), 1, 'eval does not count batches');
});

test('conv2d output shapes with stride, padding, dilation and groups; grouped conv equals split convs', () => {
  const x = randn([2, 4, 9, 9]);
  assert.deepEqual(new Conv2d(4, 6, 3, { stride: 2, padding: 1 }).forward(x).shape, [2, 6, 5, 5]);
  assert.deepEqual(new Conv2d(4, 6, 3, { dilation: 2 }).forward(x).shape, [2, 6, 5, 5]);
  const g = new Conv2d(4, 4, 3, { groups: 2, padding: 1, bias: false });
  const out = g.forward(x);
  const w = g.weight;
  const left = F.conv2d(x.narrow(1, 0, 2), w.narrow(0, 0, 2), null, { padding: 1 });
  const right = F.conv2d(x.narrow(1, 2, 2), w.narrow(0, 2, 2), null, { padding: 1 });
  assertClose(out.narrow(1, 0, 2).contiguous().toArray(), left.toArray(), { rtol: 1e-5, atol: 1e-6 });
  assertClose(out.narrow(1, 2, 2).contiguous().toArray(), right.toArray(), { rtol: 1e-5, atol: 1e-6 });
  assert.throws(() => new Conv2d(3, 4, 3, { groups: 2 }), /inChannels \(3\) must be divisible by groups \(2\)/);
});

test('pooling: max_pool2d and adaptive_avg_pool2d values', () => {
  const x = arange(0, 16).to('float32').reshape(1, 1, 4, 4);
  assert.deepEqual(new MaxPool2d(2).forward(x).toArray(), [5, 7, 13, 15]);
  assert.deepEqual(new AdaptiveAvgPool2d(1).forward(x).toArray(), [7.5]);
  assert.deepEqual(new AdaptiveAvgPool2d(2).forward(x).toArray(), [2.5, 4.5, 10.5, 12.5]);
});

test('linear equals x Wᵀ + b', () => {
  const l = new Linear(3, 2);
  const x = randn([4, 3]);
  const expected = x.matmul(l.weight.T).add(l.bias!);
  assertClose(l.forward(x).toArray(), expected.toArray(), { rtol: 1e-5, atol: 1e-6 });
});

test('augmentation ops: identity affine grid reproduces the image; bilinear resize of a constant is constant; flip twice is identity', () => {
  const img = randn([2, 3, 8, 8]);
  const theta = tensor([1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0], { shape: [2, 2, 3] });
  const grid = F.affineGrid(theta, [2, 3, 8, 8], false);
  assertClose(F.gridSample(img, grid).toArray(), img.toArray(), { rtol: 1e-5, atol: 1e-5 });
  const c = ones([1, 3, 5, 7]).mul(0.25);
  const up = F.interpolate(c, [11, 13]);
  assert.deepEqual(up.shape, [1, 3, 11, 13]);
  assertClose(up.toArray(), new Array(3 * 11 * 13).fill(0.25), { rtol: 1e-6 });
  assertClose(F.interpolate(c, [2, 3], { antialias: true }).toArray(), new Array(18).fill(0.25), { rtol: 1e-6 });
  assert.deepEqual(img.flip(3).flip(3).toArray(), img.toArray());
  // per-channel arithmetic: normalizing a constant image with its own mean gives zeros
  const mean = tensor([0.25, 0.25, 0.25]).reshape(1, 3, 1, 1);
  assertClose(c.sub(mean).toArray(), new Array(105).fill(0), { atol: 1e-7 });
});

test('to(device) keeps parameter identity (CPU round trip)', () => {
  const n = new Net();
  const before = n.parameters();
  n.to('cpu');
  assert.deepEqual(n.parameters(), before);
  assert.equal(n.fc.weight.device, 'cpu');
});

test('replaceModule swaps a child and keeps its place in the key order', () => {
  const n = new Net();
  const head = n.replaceModule('fc', new Linear(4, 5));
  const keys = [...n.stateDict().keys()];
  assert.deepEqual(keys.slice(-2), ['fc.weight', 'fc.bias']);
  assert.deepEqual(n.stateDict().get('fc.weight')!.shape, [5, 4]);
  assert.ok(n.parameters().includes(head.weight));
  assert.throws(() => n.replaceModule('nope', new ReLU()), /no child module named "nope"/);
});

test('F.pad pads the last dims first, with a constant, and rejects odd pad lists', () => {
  const x = tensor([[1, 2], [3, 4]]).reshape(1, 1, 2, 2);
  const y = F.pad(x, [0, 1, 1, 0], 9); // right by 1, top by 1
  assert.deepEqual(y.shape, [1, 1, 3, 3]);
  assert.deepEqual(y.toArray(), [9, 9, 9, 1, 2, 9, 3, 4, 9]);
  assert.throws(() => F.pad(x, [1, 2, 3]), /Expected an even number/);
});
