/**
 * Model architectures: torchvision's ResNet keys and shapes (hashes of torchvision 0.14's
 * state_dict), the Keras ResNet-50 layout, stems, head replacement, freezing, MobileNetV1 widths,
 * and TensorFlow 'same' padding against a direct NHWC reference convolution.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  BasicBlock, Bottleneck, convKernelToOIHW, depthwiseKernelToOIHW, mobilenetV1, MobileNetV1, ResNet, resnet18, resnet34, resnet50, TfSameConv2d, tfSamePads, zeroPad2d,
} from '../../src/models/index.js';
import { BatchNorm2d, Conv2d, F } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { manualSeed, noGrad, randint, randn, tensor, tidy } from '../../src/tensor/index.js';
import { assertClose } from '../helpers.js';

function keyHash(m: ResNet): string {
  const s = [...m.stateDict()].map(([k, v]) => `${k}:[${v.shape.join(', ')}]`).join(';');
  return createHash('sha256').update(s).digest('hex');
}

describe('ResNet', () => {
  it('18/34/50 have torchvision\'s state-dict keys, order and shapes', () => {
    // /usr/bin/python3: sha256(';'.join(f'{k}:{list(v.shape)}' for k, v in torchvision.models.resnetNN().state_dict().items()))
    const expected: Array<[ResNet, number, string]> = [
      [resnet18(), 122, 'b9bc0f19d2d034388aef08de97a908963e55051e91022fb8c1c182e462fb87fb'],
      [resnet34(), 218, 'f481d2ef38f1651f46ca1f94755ea14084e11c3525afbacdeb53ee20f6f0b256'],
      [resnet50(), 320, '3b5dba5144f49644f8bd831a534107285ffcdbfba036869836da39627fca2832'],
    ];
    for (const [m, n, h] of expected) {
      assert.equal(m.stateDict().size, n, `resnet${m.depth} key count`);
      assert.equal(keyHash(m), h, `resnet${m.depth} keys/shapes`);
    }
  });

  it("the Keras layout: stride on the first 1x1 conv, conv biases, BN eps 1e-3, torchvision keys plus biases", () => {
    const k = resnet50({ layout: 'keras' });
    const tv = resnet50();
    const kKeys = [...k.stateDict().keys()];
    const tvKeys = new Set(tv.stateDict().keys());
    const extra = kKeys.filter((key) => !tvKeys.has(key));
    assert.equal(extra.length, 53);
    assert.ok(extra.every((key) => /(conv\d|downsample\.0)\.bias$/.test(key)), extra.join(','));
    assert.equal(kKeys.length - extra.length, tvKeys.size);
    for (const layer of [k.layer2, k.layer3, k.layer4]) {
      const b = layer.layers[0] as Bottleneck;
      assert.deepEqual(b.conv1.stride, [2, 2]);
      assert.deepEqual(b.conv2.stride, [1, 1]);
    }
    const b1 = k.layer1.layers[0] as Bottleneck;
    assert.deepEqual(b1.conv1.stride, [1, 1]);
    assert.deepEqual((tv.layer2.layers[0] as Bottleneck).conv2.stride, [2, 2]);
    for (const [, m] of k.namedModules()) if (m instanceof BatchNorm2d) assert.equal(m.eps, 1e-3);
    const y = noGrad(() => k.eval().forwardFeatures(randn([1, 3, 64, 64])));
    assert.deepEqual(y.shape, [1, 2048]);
  });

  it('the CIFAR stem keeps 32 px at full resolution into layer1; the ImageNet stem quarters it', () => {
    manualSeed(0);
    const c = resnet18({ stem: 'cifar', numClasses: 10 }).eval();
    const i = resnet18({ numClasses: 10 }).eval();
    assert.deepEqual(c.conv1.weight.shape, [64, 3, 3, 3]);
    assert.deepEqual(i.conv1.weight.shape, [64, 3, 7, 7]);
    const x = randn([2, 3, 32, 32]);
    tidy(() => noGrad(() => {
      const stemC = c.maxpool.forward(c.bn1.forward(c.conv1.forward(x)).relu());
      const stemI = i.maxpool.forward(i.bn1.forward(i.conv1.forward(x)).relu());
      assert.deepEqual(stemC.shape, [2, 64, 32, 32]);
      assert.deepEqual(stemI.shape, [2, 64, 8, 8]);
      assert.deepEqual(c.forward(x).shape, [2, 10]);
      assert.deepEqual(c.forwardFeatures(x).shape, [2, 512]);
    }));
  });

  it('replaceHead gives numClasses outputs with the same keys, trainable, and an optimizer trains it', () => {
    manualSeed(1);
    const m = resnet18({ stem: 'cifar' });
    const keys = [...m.stateDict().keys()];
    m.freezeUpTo('fc');
    m.replaceHead(7);
    assert.deepEqual([...m.stateDict().keys()], keys);
    assert.deepEqual(m.fc.weight.shape, [7, 512]);
    assert.deepEqual(m.fc.bias!.shape, [7]);
    assert.equal(m.fc.outFeatures, 7);
    assert.ok(m.fc.weight.requiresGrad && m.fc.bias!.requiresGrad);
    const bound = 1 / Math.sqrt(512);
    assert.ok(m.fc.weight.abs().amax().item() <= bound + 1e-7, 'PyTorch default init bound');
    const x = randn([4, 3, 32, 32]);
    const y = randint(0, 7, [4]);
    const opt = new SGD(m.fc.parameters(), { lr: 0.1 });
    const before = m.fc.bias!.clone();
    F.crossEntropy(m.forward(x), y).backward();
    opt.step();
    assert.ok(m.fc.bias!.sub(before).abs().amax().item() > 0);
    assert.equal(m.conv1.weight.grad, null, 'frozen backbone gets no gradient');
  });

  it('freezeUpTo freezes the named stage and all before it, keeps their BatchNorm in eval mode, and unfreezes with null', () => {
    manualSeed(2);
    const m = resnet18({ stem: 'cifar', numClasses: 5 });
    const frozen = m.freezeUpTo('layer2');
    assert.ok(frozen.includes('conv1.weight') && frozen.includes('layer2.1.bn2.bias'));
    assert.ok(!frozen.some((k) => k.startsWith('layer3') || k.startsWith('fc')));
    for (const [k, p] of m.namedParameters()) {
      const shouldTrain = k.startsWith('layer3') || k.startsWith('layer4') || k.startsWith('fc');
      assert.equal(p.requiresGrad, shouldTrain, k);
    }
    m.train();
    const bn1 = (m.layer1.layers[0] as BasicBlock).bn1;
    const bn3 = (m.layer3.layers[0] as BasicBlock).bn1;
    assert.equal(bn1.training, false);
    assert.equal(m.bn1.training, false);
    assert.equal(bn3.training, true);
    const rm1 = bn1.runningMean!.clone();
    const rm3 = bn3.runningMean!.clone();
    F.crossEntropy(m.forward(randn([4, 3, 32, 32])), randint(0, 5, [4])).backward();
    assert.equal(bn1.runningMean!.sub(rm1).abs().amax().item(), 0, 'frozen BN running stats unchanged');
    assert.ok(bn3.runningMean!.sub(rm3).abs().amax().item() > 0, 'trainable BN running stats updated');
    assert.equal((m.layer2.layers[0] as BasicBlock).conv1.weight.grad, null);
    assert.notEqual((m.layer3.layers[0] as BasicBlock).conv1.weight.grad, null);
    m.freezeUpTo(null);
    m.train();
    assert.ok(m.parameters().every((p) => p.requiresGrad));
    assert.equal(bn1.training, true);
    assert.throws(() => m.freezeUpTo('layer9' as 'layer1'), /unknown stage "layer9"; the stages are stem, layer1, layer2, layer3, layer4, fc/);
  });
});

describe('MobileNetV1', () => {
  it('widths follow Keras int(channels * alpha); alpha 1 has Keras\' 4,253,864 weights (parameters + BN running stats)', () => {
    const a75 = mobilenetV1({ alpha: 0.75 });
    assert.deepEqual(a75.conv1.weight.shape, [24, 3, 3, 3]);
    assert.equal(a75.numFeatures, 768);
    assert.deepEqual(a75.blocks.layers.length, 13);
    const b0 = a75.blocks.layers[0] as unknown as { conv_dw: Conv2d; conv_pw: Conv2d };
    assert.deepEqual(b0.conv_dw.weight.shape, [24, 1, 3, 3]);
    assert.equal(b0.conv_dw.groups, 24);
    assert.deepEqual(b0.conv_pw.weight.shape, [48, 24, 1, 1]);
    const a1 = mobilenetV1();
    let n = 0;
    for (const [k, t] of a1.stateDict()) if (!k.endsWith('num_batches_tracked')) n += t.numel;
    assert.equal(n, 4253864);
    assert.deepEqual([...a75.stateDict().keys()].slice(0, 8), [
      'conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked', 'blocks.0.conv_dw.weight', 'blocks.0.bn_dw.weight',
    ]);
  });

  it('features, head replacement and freezing', () => {
    manualSeed(3);
    const m = new MobileNetV1({ alpha: 0.25, numClasses: 10 }).eval();
    const x = randn([2, 3, 64, 64]);
    assert.deepEqual(noGrad(() => m.forwardFeatures(x)).shape, [2, 256]);
    m.replaceHead(3);
    assert.deepEqual(noGrad(() => m.forward(x)).shape, [2, 3]);
    const frozen = m.freezeUpTo('block5');
    assert.ok(frozen.includes('blocks.4.conv_pw.weight') && !frozen.some((k) => k.startsWith('blocks.5.')));
  });
});

/** Direct TF conv on NHWC with HWIO kernel (groups = depthwise when dw), SAME padding. */
function refConvNHWC(x: Float32Array, [n, h, w, c]: number[], k: Float32Array, [kh, kw, ci, co]: number[], stride: number, depthwise: boolean): { out: number[]; shape: number[] } {
  const [pt] = tfSamePads(h, kh, stride);
  const [pl] = tfSamePads(w, kw, stride);
  const oh = Math.ceil(h / stride);
  const ow = Math.ceil(w / stride);
  const oc = depthwise ? ci * co : co;
  const out = new Array<number>(n * oh * ow * oc).fill(0);
  for (let b = 0; b < n; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) for (let o = 0; o < oc; o++) {
    let s = 0;
    for (let di = 0; di < kh; di++) for (let dj = 0; dj < kw; dj++) {
      const yi = i * stride + di - pt;
      const xj = j * stride + dj - pl;
      if (yi < 0 || yi >= h || xj < 0 || xj >= w) continue;
      if (depthwise) {
        const cin = Math.floor(o / co);
        const mult = o % co;
        s += x[((b * h + yi) * w + xj) * c + cin]! * k[((di * kw + dj) * ci + cin) * co + mult]!;
      } else {
        for (let cin = 0; cin < c; cin++) s += x[((b * h + yi) * w + xj) * c + cin]! * k[((di * kw + dj) * ci + cin) * co + o]!;
      }
    }
    out[((b * oh + i) * ow + j) * oc + o] = s;
  }
  return { out, shape: [n, oh, ow, oc] };
}

describe("TensorFlow 'same' padding", () => {
  it('pads odd totals after (bottom/right)', () => {
    assert.deepEqual(tfSamePads(224, 3, 2), [0, 1]);
    assert.deepEqual(tfSamePads(7, 3, 2), [1, 1]);
    assert.deepEqual(tfSamePads(224, 3, 1), [1, 1]);
    assert.deepEqual(tfSamePads(224, 1, 2), [0, 0]);
    assert.deepEqual(tfSamePads(8, 4, 1), [1, 2]);
  });

  it('zeroPad2d pads with zeros on the requested sides', () => {
    const x = tensor([1, 2, 3, 4], { shape: [1, 1, 2, 2] });
    const y = zeroPad2d(x, [0, 1, 2, 0]);
    assert.deepEqual(y.shape, [1, 1, 3, 4]);
    assert.deepEqual(y.toArray(), [0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0]);
  });

  for (const [h, w, stride, depthwise] of [[8, 8, 2, false], [7, 6, 2, true], [8, 7, 2, true], [6, 6, 1, true], [5, 8, 1, false]] as const) {
    it(`conv ${depthwise ? 'depthwise ' : ''}${h}x${w} stride ${stride}: TfSameConv2d with converted HWIO kernels equals the NHWC reference`, () => {
      manualSeed(h * 10 + w);
      const [c, mult, co] = [3, depthwise ? 2 : 1, 4];
      const xNHWC = randn([2, h, w, c]);
      const kShape = depthwise ? [3, 3, c, mult] : [3, 3, c, co];
      const kHWIO = randn(kShape);
      const ref = refConvNHWC(xNHWC.toTypedArray<'float32'>(), [2, h, w, c], kHWIO.toTypedArray<'float32'>(), kShape, stride, depthwise);
      const conv = depthwise ? new TfSameConv2d(c, c * mult, 3, { stride, groups: c, bias: false }) : new TfSameConv2d(c, co, 3, { stride, bias: false });
      noGrad(() => conv.weight.copy_(depthwise ? depthwiseKernelToOIHW(kHWIO) : convKernelToOIHW(kHWIO)));
      const y = noGrad(() => conv.forward(xNHWC.permute(0, 3, 1, 2).contiguous())).permute(0, 2, 3, 1).contiguous();
      assert.deepEqual(y.shape, ref.shape);
      assertClose(y.toArray(), ref.out, { rtol: 1e-5, atol: 1e-5, what: 'conv output' });
    });
  }
});
