/**
 * Memory never grows without bound: 2,000 training steps of a small CNN end with RSS within
 * 50 MB of RSS at step 100, both with tidy() scopes and when only the finalizers free tensors.
 * And tidy() scopes keep their activations out of V8's external-memory accounting.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { native } from '../../src/binding/binding.js';
import { BatchNorm2d, Conv2d, F, Linear, Module, ReLU, Sequential } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { keep, manualSeed, randint, randn, tidy, zeros, type Tensor } from '../../src/tensor/index.js';
import { runFreshNode, srcModule } from '../helpers.js';

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

// Host memory is reported to V8 (so GC feels leaked tensors) only for tensors no scope will free.
test('tidy() scopes own their tensors: only what leaves the outermost scope is reported to V8', () => {
  const bytes = (t: Tensor): number => native.reportedBytes(t.handle);
  const outside = zeros([1000]);
  assert.equal(bytes(outside), 4000, 'a tensor created outside any scope is reported at once');
  let inner: Tensor | undefined;
  let kept: Tensor | undefined;
  const returned = tidy(() => {
    const fromInner = tidy(() => {
      inner = zeros([10, 10]);
      assert.equal(bytes(inner), 0, 'scope-owned');
      return zeros([500]);
    });
    assert.equal(bytes(fromInner), 0, 'returned to an enclosing scope: still owned');
    kept = keep(zeros([250]));
    assert.equal(bytes(kept), 1000, 'keep() hands it to GC');
    return fromInner;
  });
  assert.equal(bytes(returned), 2000, 'returned from the outermost scope');
  assert.ok(inner!.isDisposed);
  assert.throws(() => tidy(() => {
    zeros([8]);
    throw new Error('boom');
  }), /boom/);
  assert.equal(bytes(zeros([8])), 32, 'a throwing scope leaves no scope open');
  for (const t of [outside, returned, kept!]) t.dispose();
});

// In a fresh process: garbage left by the tests above may be collected at any time. Only full GCs
// that start during the loop count: on a loaded machine V8 may run one as the script returns to
// the event loop, after the last activation is gone.
test('large short-lived activations inside tidy() cause no full GCs', () => {
  const script = `import { constants, PerformanceObserver } from 'node:perf_hooks';
import { Conv2d } from ${JSON.stringify(srcModule('nn'))};
import { noGrad, randn, tidy } from ${JSON.stringify(srcModule('tensor'))};
let major = 0;
let loopEnd = Infinity;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR && e.startTime < loopEnd) major++;
});
obs.observe({ entryTypes: ['gc'] });
const conv = new Conv2d(16, 16, 3, { padding: 1 });
const x = randn([8, 16, 128, 128]); // 8 MB per activation
for (let i = 0; i < 40; i++) {
  tidy(() => noGrad(() => {
    let h = x;
    for (let j = 0; j < 24; j++) h = conv.forward(h); // 192 MB live at the end of each pass
    return h.sum().item();
  }));
}
loopEnd = performance.now();
setTimeout(() => { obs.disconnect(); console.log(major); }, 50); // gc entries arrive asynchronously`;
  const major = runFreshNode<number>(script).result;
  assert.equal(major, 0, `${major} full GCs`);
});
