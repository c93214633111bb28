/** Pretrained learners: ImageNet weights, a new head, the network's own keys and input preprocessing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadKerasMobileNetV1 } from '../../src/models/tfjs.js';
import { preprocess } from '../../src/models/preprocess.js';
import { normalize } from '../../src/data/transforms.js';
import { manualSeed, noGrad, rand } from '../../src/tensor/index.js';
import { buildPretrainedLearner, locatePretrained } from '../../src/train/pretrained.js';
import { assertClose } from '../helpers.js';

test('mobilenet-v1-0.75-imagenet: pretrained body, new head, the network\'s keys, ImageNet-normalized input mapped to [-1, 1]', async () => {
  const dir = locatePretrained('mobilenet-v1-0.75-imagenet');
  assert.ok(dir, 'MobileNetV1 is in ../shared/models');
  manualSeed(3);
  const learner = await buildPretrainedLearner('mobilenet-v1-0.75-imagenet', 37);
  const net = loadKerasMobileNetV1(dir!).eval();
  const keys = [...learner.stateDict().keys()];
  assert.deepEqual(keys, [...net.stateDict().keys()]);
  assert.deepEqual(learner.stateDict().get('fc.weight')!.shape, [37, 768]);
  assertClose(learner.stateDict().get('conv1.weight')!.toTypedArray() as Float32Array, net.stateDict().get('conv1.weight')!.toTypedArray() as Float32Array, { what: 'conv1.weight is pretrained' });
  // Same pixels: the learner sees torchvision normalization, the network its own [-1, 1].
  const raw = rand([2, 3, 64, 64]).mul(255);
  learner.eval();
  const a = noGrad(() => learner.forwardFeatures(normalize(raw.div(255))));
  const b = noGrad(() => net.forwardFeatures(preprocess(raw, 'tf')));
  assertClose(a.toTypedArray() as Float32Array, b.toTypedArray() as Float32Array, { rtol: 1e-4, atol: 1e-4, what: 'pooled features' });
  // The head is seeded: the same seed gives the same head.
  manualSeed(3);
  const again = await buildPretrainedLearner('mobilenet-v1-0.75-imagenet', 37);
  assert.deepEqual(again.stateDict().get('fc.weight')!.toArray(), learner.stateDict().get('fc.weight')!.toArray());
  assert.equal(locatePretrained('tiny-cnn'), undefined);
});
