/**
 * Memory never grows without bound: 2,000 training steps of a small CNN end with RSS within
 * 50 MB of RSS at step 100, both with tidy() scopes and when only the finalizers free tensors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchNorm2d, Conv2d, F, Linear, Module, ReLU, Sequential } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { manualSeed, randint, randn, tidy, type Tensor } from '../../src/tensor/index.js';

class SmallCNN extends Module {
  readonly body = this.registerModule('body', new Sequential(new Conv2d(3, 8, 3, { padding: 1 }), new BatchNorm2d(8), new ReLU(),
    new Conv2d(8, 16, 3, { stride: 2, padding: 1 }), new BatchNorm2d(16), new ReLU()));
  readonly fc = this.registerModule('fc', new Linear(16, 10));
  forward(x: Tensor): Tensor {
    return this.fc.forward(F.adaptiveAvgPool2d(this.body.forward(x), 1).flatten(1));
  }
}

function run(steps: number, step: (i: number) => void): { at100: number; atEnd: number } {
  let at100 = 0;
  for (let i = 1; i <= steps; i++) {
    step(i);
    if (i === 100) at100 = process.memoryUsage().rss;
  }
  return { at100, atEnd: process.memoryUsage().rss };
}

function setup() {
  manualSeed(0);
  const model = new SmallCNN();
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = randn([32, 3, 16, 16]);
  const y = randint(0, 10, [32]);
  return { model, opt, x, y };
}

const MB = 1024 * 1024;

test('2,000 steps inside tidy(): RSS stays within 50 MB of step 100', () => {
  const { model, opt, x, y } = setup();
  const { at100, atEnd } = run(2000, () => tidy(() => {
    opt.zeroGrad();
    F.crossEntropy(model.forward(x), y).backward();
    opt.step();
  }));
  assert.ok(atEnd - at100 < 50 * MB, `RSS grew by ${((atEnd - at100) / MB).toFixed(1)} MB`);
});

test('2,000 steps with no scope at all: finalizers and reported external memory keep RSS bounded', () => {
  const { model, opt, x, y } = setup();
  const { at100, atEnd } = run(2000, () => {
    opt.zeroGrad();
    F.crossEntropy(model.forward(x), y).backward();
    opt.step();
  });
  assert.ok(atEnd - at100 < 50 * MB, `RSS grew by ${((atEnd - at100) / MB).toFixed(1)} MB`);
});
