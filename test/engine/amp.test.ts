/**
 * Mixed precision and memory layout: the autocast() scope, channels-last tensors and modules,
 * bfloat16 training, and resolvePrecision().
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSafetensors, saveSafetensors } from '../../src/io/index.js';
import { mobilenetV1, resnet18 } from '../../src/models/index.js';
import { Conv2d, F } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import {
  autocast, autocastState, CPU_BF16_FLOAT32_CONV_MAX_PIXELS, CPU_BF16_MATMUL_CONV, cpuBf16Flags, manualSeed, nativeBf16, randint, randn, resolvePrecision, tensor, tidy,
  withPrecision, type AutocastOptions, type Tensor,
} from '../../src/tensor/index.js';
import { assertClose } from '../helpers.js';

test('autocast: conv and matmul run in bfloat16 inside the scope, float32 outside', () => {
  manualSeed(0);
  const x = randn([2, 3, 8, 8]);
  const w = randn([4, 3, 3, 3]);
  const a = randn([5, 6]);
  const b = randn([6, 7]);
  assert.equal(F.conv2d(x, w).dtype, 'float32');
  const inside = autocast({ dtype: 'bfloat16' }, () => {
    assert.deepEqual(autocastState(), { enabled: true, dtype: 'bfloat16' });
    return { conv: F.conv2d(x, w).dtype, mm: a.matmul(b).dtype, add: a.add(1).dtype };
  });
  // add is on neither autocast list: it keeps its inputs' dtype.
  assert.deepEqual(inside, { conv: 'bfloat16', mm: 'bfloat16', add: 'float32' });
  assert.equal(autocastState().enabled, false);
  assert.equal(F.conv2d(x, w).dtype, 'float32');
  assert.equal(a.matmul(b).dtype, 'float32');
});

test('autocast: scopes nest, an inner enabled:false runs float32, and the outer state comes back', () => {
  const a = randn([4, 4]);
  const dtypes = autocast({ dtype: 'bfloat16' }, () => {
    const before = a.matmul(a).dtype;
    const inner = autocast({ dtype: 'bfloat16', enabled: false }, () => a.matmul(a).dtype);
    const nested = autocast({ dtype: 'bfloat16' }, () => a.matmul(a).dtype);
    const after = a.matmul(a).dtype;
    return [before, inner, nested, after];
  });
  assert.deepEqual(dtypes, ['bfloat16', 'float32', 'bfloat16', 'bfloat16']);
  assert.equal(autocastState().enabled, false);
});

test('autocast: the previous state is restored when fn throws', () => {
  assert.throws(() => autocast({ dtype: 'bfloat16' }, () => {
    throw new Error('boom');
  }), /boom/);
  assert.equal(autocastState().enabled, false);
  // and after an engine error inside
  assert.throws(() => autocast({ dtype: 'bfloat16' }, () => randn([2, 3]).matmul(randn([2, 3]))), /mat1 and mat2 shapes/);
  assert.equal(autocastState().enabled, false);
  assert.equal(randn([2, 2]).matmul(randn([2, 2])).dtype, 'float32');
});

test('autocast: rejects a dtype the device cannot autocast to, and other devices', () => {
  assert.throws(() => autocast({ dtype: 'float16' }, () => 0), /Expected 'bfloat16' for autocast dtype on cpu but received "float16"/);
  assert.throws(() => autocast({ dtype: 'bfloat16', device: 'mps' as 'cpu' }, () => 0), /Expected 'cpu' or 'cuda' for autocast device/);
  assert.equal(autocastState().enabled, false);
});

test('a bfloat16 SGD step keeps weights, gradients and momentum in float32', () => {
  manualSeed(1);
  const model = resnet18({ numClasses: 10, stem: 'cifar' }).train();
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const x = randn([4, 3, 16, 16]);
  const y = randint(0, 10, [4]);
  const before = model.conv1.weight.clone();
  tidy(() => {
    const loss = autocast({ dtype: 'bfloat16' }, () => {
      const logits = model.forward(x);
      assert.equal(logits.dtype, 'bfloat16');
      return F.crossEntropy(logits, y);
    });
    assert.equal(loss.dtype, 'float32', 'crossEntropy upcasts bf16 logits');
    loss.backward();
    opt.step();
  });
  for (const p of model.parameters()) {
    assert.equal(p.dtype, 'float32');
    assert.equal(p.grad!.dtype, 'float32');
  }
  assert.ok(model.conv1.weight.sub(before).abs().amax().item() > 0, 'the step changed the weights');
});

test('channels-last: contiguous() and to() round trip keeps values; isContiguous tells the layouts apart', () => {
  const x = randn([2, 3, 4, 5]);
  const cl = x.contiguous({ memoryFormat: 'channels-last' });
  assert.ok(cl.isContiguous('channels-last'));
  assert.ok(!cl.isContiguous('contiguous'));
  assert.deepEqual(cl.shape, [2, 3, 4, 5]);
  assert.deepEqual(cl.toArray(), x.toArray(), 'toArray is C order whatever the layout');
  const back = cl.contiguous();
  assert.ok(back.isContiguous() && !back.isContiguous('channels-last'));
  assert.deepEqual(back.toArray(), x.toArray());
  const viaTo = x.to({ memoryFormat: 'channels-last' });
  assert.ok(viaTo.isContiguous('channels-last'));
  // to() without memoryFormat preserves the layout, also across a dtype change
  const asDouble = cl.to('float64');
  assert.ok(asDouble.isContiguous('channels-last'));
  assertClose(asDouble.toArray(), x.toArray(), { rtol: 1e-7 });
  assert.throws(() => x.contiguous({ memoryFormat: 'nhwc' as 'channels-last' }), /Expected 'contiguous' or 'channels-last' for memoryFormat/);
});

test('Module.toMemoryFormat converts 4-D weights once; outputs and the saved state dict are unchanged', () => {
  manualSeed(2);
  const model = resnet18({ numClasses: 10, stem: 'cifar' }).eval();
  const x = randn([2, 3, 16, 16]);
  const dir = mkdtempSync(join(tmpdir(), 'saln-amp-'));
  try {
    const ref = model.forward(x).toArray();
    saveSafetensors(join(dir, 'nchw.safetensors'), model.stateDict());
    const w = model.conv1.weight;
    model.toMemoryFormat('channels-last');
    assert.equal(model.conv1.weight, w, 'same parameter object');
    // (a 1x1 kernel's strides are both layouts at once, so only the 3x3 ones can tell)
    for (const [name, p] of model.stateDict()) assert.ok(p.ndim === 4 ? p.isContiguous('channels-last') : p.isContiguous(), name);
    assert.ok(!model.conv1.weight.isContiguous() && !model.stateDict().get('layer1.0.conv1.weight')!.isContiguous());
    const out = model.forward(x.contiguous('channels-last'));
    assertClose(out.toArray(), ref, { rtol: 1e-4, atol: 1e-5, what: 'channels-last logits' });
    saveSafetensors(join(dir, 'cl.safetensors'), model.stateDict());
    // Byte for byte the file of the NCHW model: saved row-major, as PyTorch reads it.
    assert.ok(readFileSync(join(dir, 'cl.safetensors')).equals(readFileSync(join(dir, 'nchw.safetensors'))));
    const loaded = loadSafetensors(join(dir, 'cl.safetensors')).tensors;
    assert.deepEqual(loaded.get('conv1.weight')!.toArray(), w.toArray());
    model.toMemoryFormat('contiguous');
    assert.ok(model.conv1.weight.isContiguous());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ReLU6 in bfloat16: forward, and the backward of float32 ReLU6 (hardtanh has no bf16 backward in libtorch 1.13)', () => {
  const values = [-1, 0, 0.5, 3, 5.5, 6, 7, 10];
  const fp32 = tensor(values).requiresGrad_();
  fp32.mul(1).relu6_().sum().backward();
  const expected = fp32.grad!.toArray();
  assert.deepEqual(expected, [0, 0, 1, 1, 1, 0, 0, 0], 'float32: hardtanh passes the gradient strictly inside (0, 6)');
  const x = tensor(values).to('bfloat16').requiresGrad_();
  const y = x.mul(1).relu6_();
  assert.deepEqual(y.float().toArray(), [0, 0, 0.5, 3, 5.5, 6, 6, 6]);
  y.float().sum().backward();
  assert.deepEqual(x.grad!.float().toArray(), expected, 'in place');
  const x2 = tensor(values).to('bfloat16').requiresGrad_();
  const z = x2.relu6();
  assert.deepEqual(z.float().toArray(), [0, 0, 0.5, 3, 5.5, 6, 6, 6]);
  z.mul(tensor(values).to('bfloat16')).float().sum().backward();
  assert.deepEqual(x2.grad!.float().toArray(), expected.map((m, i) => (m === 0 ? 0 : values[i]!)), 'out of place, upstream gradient kept');
  // Without autograd (evaluation) it is a plain clamp.
  assert.deepEqual(tensor(values).to('bfloat16').relu6_().float().toArray(), [0, 0, 0.5, 3, 5.5, 6, 6, 6]);
});

test('ReLU6 in bfloat16 on a channels-last batch: the gradient of float32 ReLU6 on the same values', () => {
  manualSeed(1);
  const base = randn([4, 8, 5, 5]).mul(5).to('bfloat16').float(); // values exact in both dtypes
  const g = randn([4, 8, 5, 5]).to('bfloat16').float();
  const grads = (['float32', 'bfloat16'] as const).map((dtype) => {
    const x = base.to(dtype).contiguous('channels-last').requiresGrad_();
    x.mul(1).relu6_().mul(g.to(dtype)).float().sum().backward();
    return x.grad!.float().toArray();
  });
  assert.deepEqual(grads[1], grads[0]);
});

test('MobileNetV1 trains in bfloat16 + channels-last: finite, decreasing loss', () => {
  manualSeed(3);
  const model = mobilenetV1({ alpha: 0.25, numClasses: 4, padding: 'torch' }).train().toMemoryFormat('channels-last');
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const x = randn([16, 3, 32, 32]).contiguous('channels-last');
  const y = randint(0, 4, [16]);
  const losses: number[] = [];
  for (let step = 0; step < 12; step++) {
    losses.push(tidy(() => {
      opt.zeroGrad();
      const loss = autocast({ dtype: 'bfloat16' }, () => F.crossEntropy(model.forward(x), y));
      loss.backward();
      opt.step();
      return loss.item();
    }));
  }
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(losses.at(-1)! < 0.7 * losses[0]!, `loss fell from ${losses[0]} to ${losses.at(-1)}`);
  for (const p of model.parameters()) assert.equal(p.dtype, 'float32');
});

test('resolvePrecision: auto follows native bf16 support; explicit values win', () => {
  const fast = nativeBf16('cpu');
  assert.equal(fast, cpuBf16Flags().length > 0);
  const auto = resolvePrecision('auto', 'auto', 'cpu');
  assert.deepEqual([auto.precision, auto.memoryFormat], fast ? ['bf16', 'channels-last'] : ['fp32', 'contiguous']);
  assert.match(auto.reason, fast ? /native bf16 \((amx_bf16|avx512_bf16)/ : /no native bf16/);
  const fp32 = resolvePrecision('fp32', 'auto', 'cpu');
  assert.equal(fp32.precision, 'fp32');
  assert.match(fp32.reason, /fp32 \(requested\)/);
  assert.deepEqual(resolvePrecision('bf16', 'contiguous', 'cpu').memoryFormat, 'contiguous');
  assert.deepEqual(resolvePrecision('auto', 'channels-last', 'cpu').memoryFormat, 'channels-last');
  assert.throws(() => resolvePrecision('fp16' as 'bf16', 'auto'), /Expected 'auto', 'fp32' or 'bf16' for precision but received "fp16"/);
  assert.throws(() => resolvePrecision('auto', 'nhwc' as 'auto'), /for memoryFormat/);
});

test('Conv2d weights stay channels-last through an SGD step', () => {
  const conv = new Conv2d(3, 8, 3, { padding: 1 }).toMemoryFormat('channels-last');
  const opt = new SGD(conv.parameters(), { lr: 0.1, momentum: 0.9 });
  for (let i = 0; i < 2; i++) {
    tidy(() => {
      opt.zeroGrad();
      conv.forward(randn([2, 3, 8, 8]).contiguous('channels-last')).square().mean().backward();
      opt.step();
    });
  }
  assert.ok(conv.weight.isContiguous('channels-last'));
});

test('autocast float32ConvMaxPixels: pointwise and depthwise convolutions over small maps compute in float32, the rest in bfloat16', () => {
  manualSeed(4);
  const conv = new Conv2d(3, 5, 1);
  const small = randn([2, 3, 4, 4]).requiresGrad_();
  const large = randn([2, 3, 8, 8]);
  const run = (o: { float32ConvMaxPixels?: number }) => autocast({ dtype: 'bfloat16', ...o }, () => [conv.forward(small), conv.forward(large)]);
  assert.deepEqual(run({}).map((t) => t.dtype), ['bfloat16', 'bfloat16'], 'torch.autocast by default');
  const [s, l] = run({ float32ConvMaxPixels: 16 });
  assert.deepEqual([s!.dtype, l!.dtype], ['float32', 'bfloat16']);
  // A bfloat16 input of a small map is upcast too, and its output equals the float32 convolution.
  const exact = conv.forward(small.to('bfloat16').float()).toArray();
  assertClose(autocast({ dtype: 'bfloat16', float32ConvMaxPixels: 16 }, () => conv.forward(small.to('bfloat16'))).toArray(), exact, { rtol: 1e-6, atol: 1e-6, what: 'small map in float32' });
  s!.sum().backward();
  assert.equal(conv.weight.grad!.dtype, 'float32');
  assert.equal(small.grad!.dtype, 'float32');
  // The setting belongs to its scope: nested scopes set their own, and it ends with the scope.
  const inner = autocast({ dtype: 'bfloat16', float32ConvMaxPixels: 16 }, () => autocast({ dtype: 'bfloat16' }, () => conv.forward(small)));
  assert.equal(inner.dtype, 'bfloat16');
  assert.equal(autocast({ dtype: 'bfloat16' }, () => conv.forward(small)).dtype, 'bfloat16');
  assert.throws(() => autocast({ dtype: 'bfloat16', float32ConvMaxPixels: -1 }, () => 0), /float32ConvMaxPixels/);
  // Depthwise too; a full 3×3 convolution (compute-bound, fast in bfloat16) is not affected.
  const depthwise = new Conv2d(3, 3, 3, { padding: 1, groups: 3 });
  const full = new Conv2d(3, 5, 3, { padding: 1 });
  assert.deepEqual(autocast({ dtype: 'bfloat16', float32ConvMaxPixels: 16 }, () => [depthwise.forward(small), full.forward(small)]).map((t) => t.dtype), ['float32', 'bfloat16']);
  // withPrecision applies it on CPU.
  assert.equal(withPrecision('bf16', 'cpu', () => conv.forward(small)).dtype, 'float32', `a 4x4 map: at most CPU_BF16_FLOAT32_CONV_MAX_PIXELS (${CPU_BF16_FLOAT32_CONV_MAX_PIXELS}) pixels`);
  assert.equal(withPrecision('bf16', 'cpu', () => conv.forward(large)).dtype, 'bfloat16');
});

type ConvCase = { what: string; x: Tensor; w: Tensor; b: Tensor | null; o: Parameters<typeof F.conv2d>[3] };

/** y = F.conv2d under autocast o (none: float32), then backward of (y·g).sum(): y and the gradients of x, w and b, as float64. */
function convGrads(c: ConvCase, g: Tensor, o: AutocastOptions | null, round = false): Float64Array[] {
  const leaf = (t: Tensor) => (round ? t.to('bfloat16').float() : t).detach().requiresGrad_();
  const [x, w, b] = [leaf(c.x), leaf(c.w), c.b === null ? null : leaf(c.b)];
  const y = o === null ? F.conv2d(x, w, b, c.o) : autocast(o, () => F.conv2d(x, w, b, c.o));
  y.float().mul(g).sum().backward();
  assert.equal(w.grad!.dtype, 'float32');
  return [y, x.grad!, w.grad!, ...(b ? [b.grad!] : [])].map((t) => Float64Array.from(t.float().toArray()));
}

/** The autograd node of F.conv2d under autocast o, the weight requiring grad. */
function gradFnOf(c: ConvCase, o: AutocastOptions): string | null {
  const w = c.w.detach().requiresGrad_();
  return autocast(o, () => F.conv2d(c.x, w, null, c.o)).gradFn; // without bias: its add would be the node
}

function relError(a: Float64Array, b: Float64Array): number {
  let [num, den] = [0, 0];
  for (let i = 0; i < a.length; i++) [num, den] = [num + (a[i]! - b[i]!) ** 2, den + b[i]! ** 2];
  return Math.sqrt(num / den);
}

test('autocast matmulConv: small output maps compute by matmul over the unfolded input, as exact as bfloat16 allows', () => {
  manualSeed(5);
  const cl = (t: Tensor) => t.contiguous('channels-last');
  const cases: ConvCase[] = [
    { what: '3x3, padding 1', x: cl(randn([4, 16, 8, 8])), w: cl(randn([24, 16, 3, 3])), b: null, o: { padding: 1 } },
    { what: '3x3, stride 2', x: cl(randn([4, 16, 8, 8])), w: cl(randn([24, 16, 3, 3])), b: null, o: { stride: 2, padding: 1 } },
    { what: '3x3, stride 2 from 16x16 (the limit is on the output map)', x: cl(randn([2, 8, 16, 16])), w: cl(randn([8, 8, 3, 3])), b: null, o: { stride: 2, padding: 1 } },
    { what: '1x1, stride 2, bias', x: cl(randn([4, 16, 8, 8])), w: cl(randn([24, 16, 1, 1])), b: randn([24]), o: { stride: 2 } },
    { what: '5x3, stride [1, 2], padding [2, 1], contiguous', x: randn([4, 16, 6, 7]), w: randn([24, 16, 5, 3]), b: randn([24]), o: { stride: [1, 2], padding: [2, 1] } },
  ];
  // Backward only (the forward pass stays libtorch's), then every pass.
  for (const forward of [0, 64]) {
    const o: AutocastOptions = { dtype: 'bfloat16', matmulConv: { backward: 64, forward } };
    for (const c of cases) {
      const what = `${c.what}, forward limit ${forward}`;
      const g = randn([...F.conv2d(c.x, c.w, c.b, c.o).shape]);
      const [matmul, native] = [convGrads(c, g, o), convGrads(c, g, { dtype: 'bfloat16' })];
      const reference = convGrads(c, g, null, true); // float32 on the bfloat16-rounded values
      assertClose(matmul[0]!, native[0]!, { rtol: 1e-2, atol: 1e-2, what: `${what}: output` });
      const strided = ![undefined, 1].includes(c.o?.stride as number | undefined);
      // A stride-1 input gradient is the flipped-kernel convolution: libtorch's values, bit for bit.
      if (forward === 0 && !strided) assertClose(matmul[1]!, native[1]!, { rtol: 0, atol: 0, what: `${what}: input gradient` });
      // The rest rounds to bfloat16 as libtorch's kernels do (the bias's sum is taken in float32).
      for (const [i, name] of [[1, 'input'], [2, 'weight'], [3, 'bias']] as const) {
        if (i === 3 && c.b === null) continue;
        const [errMatmul, errNative] = [relError(matmul[i]!, reference[i]!), relError(native[i]!, reference[i]!)];
        assert.ok(errMatmul < 1e-2, `${what}: ${name} gradient off float32 by ${errMatmul}`);
        assert.ok(errMatmul < 2 * errNative + 1e-3, `${what}: ${name} gradient off by ${errMatmul}, libtorch's by ${errNative}`);
      }
      assert.match(gradFnOf(c, o) ?? '', /Conv2dIm2col/, what);
    }
  }
});

test('autocast matmulConv: a frozen weight gets no gradient, a frozen input none either', () => {
  manualSeed(7);
  const [x0, w0] = [randn([2, 8, 8, 8]).contiguous('channels-last'), randn([8, 8, 3, 3]).contiguous('channels-last')];
  const grads = (xGrad: boolean, wGrad: boolean, opts: AutocastOptions) => {
    const [x, w] = [x0.detach().requiresGrad_(xGrad), w0.detach().requiresGrad_(wGrad)];
    autocast(opts, () => F.conv2d(x, w, null, { padding: 1 })).float().sum().backward();
    return [x.grad, w.grad];
  };
  for (const forward of [0, 64]) {
    const o: AutocastOptions = { dtype: 'bfloat16', matmulConv: { backward: 64, forward } };
    const [xg, wg] = grads(true, false, o);
    assert.equal(wg, null);
    assertClose(xg!.toArray(), grads(true, false, { dtype: 'bfloat16' })[0]!.toArray(), { rtol: 1e-2, atol: 2e-2, what: 'input gradient' });
    const [xg2, wg2] = grads(false, true, o);
    assert.equal(xg2, null);
    assert.equal(wg2!.dtype, 'float32');
  }
});

test('autocast matmulConv: larger output maps, depthwise and dilated convolutions keep libtorch\'s kernels; withPrecision sets it on CPU', () => {
  manualSeed(6);
  const o: AutocastOptions = { dtype: 'bfloat16', matmulConv: { backward: 64, forward: 64 } };
  const cases: ConvCase[] = [
    { what: 'a map over the limit', x: randn([2, 8, 9, 9]), w: randn([8, 8, 3, 3]), b: null, o: { padding: 1 } },
    { what: 'depthwise', x: randn([2, 8, 8, 8]), w: randn([8, 1, 3, 3]), b: null, o: { padding: 1, groups: 8 } },
    { what: 'dilated', x: randn([2, 8, 8, 8]), w: randn([8, 8, 3, 3]), b: null, o: { padding: 2, dilation: 2 } },
  ];
  for (const c of cases) {
    const g = randn([...F.conv2d(c.x, c.w, c.b, c.o).shape]);
    const [a, b] = [convGrads(c, g, o), convGrads(c, g, { dtype: 'bfloat16' })];
    for (const i of [0, 1, 2]) assertClose(a[i]!, b[i]!, { rtol: 0, atol: 0, what: `${c.what}: output and gradients` });
    assert.equal(gradFnOf(c, o), 'ConvolutionBackward0', c.what);
  }
  // withPrecision on CPU: the limits of CPU_BF16_MATMUL_CONV.
  const w = randn([8, 8, 3, 3]);
  const node = (n: number) => withPrecision('bf16', 'cpu', () => F.conv2d(randn([1, 8, n, n]), w.detach().requiresGrad_(), null, { padding: 1 })).gradFn;
  const side = Math.floor(Math.sqrt(CPU_BF16_MATMUL_CONV.backward));
  assert.match(node(side) ?? '', /Conv2dIm2col/, `a ${side}x${side} map`);
  assert.equal(node(side + 1), 'ConvolutionBackward0', `a ${side + 1}x${side + 1} map`);
  // A kernel larger than the padded input is libtorch's error, as without the rule.
  assert.throws(() => autocast(o, () => F.conv2d(randn([1, 8, 2, 2]), randn([8, 8, 5, 5]))), /kernel size can't be greater than actual input size/i);
  assert.throws(() => autocast({ dtype: 'bfloat16', matmulConv: { backward: 1.5, forward: 0 } }, () => 0), /matmulConv\.backward/);
  assert.throws(() => autocast({ dtype: 'bfloat16', matmulConv: { backward: 16, forward: 64 } }, () => 0), /matmulConv\.forward/);
});
