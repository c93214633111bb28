/**
 * Trainable architectures by name, with the head sized to the classes and fresh (seeded) init.
 * The pretrained zoo (src/models/zoo.ts) is for feature extraction; these are the learners.
 */
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, Module, ReLU } from '../nn/index.js';
import { mobilenetV1, resnet18, resnet34, resnet50 } from '../models/index.js';
import type { Tensor } from '../tensor/index.js';

/**
 * What the trainer needs of a learner: logits, penultimate features (saln's 'learner' source), and
 * the head alone on those features (the 'gradient' source's last-layer gradient embedding).
 */
export interface Learner extends Module {
  forward(x: Tensor): Tensor;
  forwardFeatures(x: Tensor): Tensor;
  /** Logits from penultimate features: forward(x) = classify(forwardFeatures(x)), but for any dropout. */
  classify(features: Tensor): Tensor;
}

/** A very small CNN (conv-bn-relu ×2, global pool, linear), for tests and smoke runs. */
export class TinyCNN extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly pool: AdaptiveAvgPool2d;
  readonly fc: Linear;
  readonly relu = new ReLU();
  constructor(numClasses: number, width = 8) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(3, width, 3, { padding: 1, stride: 2, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(width));
    this.conv2 = this.registerModule('conv2', new Conv2d(width, 2 * width, 3, { padding: 1, stride: 2, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(2 * width));
    this.pool = this.registerModule('pool', new AdaptiveAvgPool2d(1));
    this.fc = this.registerModule('fc', new Linear(2 * width, numClasses));
  }
  forwardFeatures(x: Tensor): Tensor {
    const a = this.bn1.forward(this.conv1.forward(x)).relu();
    const b = this.bn2.forward(this.conv2.forward(a)).relu();
    return this.pool.forward(b).flatten(1);
  }
  classify(features: Tensor): Tensor {
    return this.fc.forward(features);
  }
  forward(x: Tensor): Tensor {
    return this.classify(this.forwardFeatures(x));
  }
}

export const LEARNERS: Readonly<Record<string, (numClasses: number) => Learner>> = {
  'resnet18-cifar': (c) => resnet18({ numClasses: c, stem: 'cifar' }),
  'resnet34-cifar': (c) => resnet34({ numClasses: c, stem: 'cifar' }),
  resnet18: (c) => resnet18({ numClasses: c }),
  resnet50: (c) => resnet50({ numClasses: c }),
  'mobilenet-v1': (c) => mobilenetV1({ numClasses: c }) as unknown as Learner,
  'tiny-cnn': (c) => new TinyCNN(c),
};

export function buildLearner(name: string, numClasses: number): Learner {
  const make = LEARNERS[name];
  if (!make) throw new Error(`unknown model ${JSON.stringify(name)}; models: ${Object.keys(LEARNERS).join(', ')}`);
  return make(numClasses);
}
