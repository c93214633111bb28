/**
 * ResNet-18/34/50 with torchvision's architecture and state-dict keys (`layer1.0.bn1.running_mean`,
 * `layer2.0.downsample.0.weight`, `fc.bias`), so torchvision/timm weights load unchanged.
 * The 'cifar' stem (3x3 conv, stride 1, no max-pool) is for 32 px inputs; its keys are the same.
 */
import { EngineError } from '../binding/errors.js';
import { init, Module, Conv2d, BatchNorm2d, ReLU, MaxPool2d, AdaptiveAvgPool2d, Linear, Sequential, Identity } from '../nn/index.js';
import type { Tensor } from '../tensor/tensor.js';

function conv3x3(inp: number, out: number, stride = 1): Conv2d {
  return new Conv2d(inp, out, 3, { stride, padding: 1, bias: false });
}
function conv1x1(inp: number, out: number, stride = 1): Conv2d {
  return new Conv2d(inp, out, 1, { stride, bias: false });
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

  constructor(inplanes: number, planes: number, stride = 1, downsample: Sequential | null = null) {
    super();
    this.conv1 = this.registerModule('conv1', conv3x3(inplanes, planes, stride));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.registerModule('relu', new ReLU());
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.downsample = downsample ? this.registerModule('downsample', downsample) : null;
  }

  forward(x: Tensor): Tensor {
    const identity = this.downsample ? this.downsample.forward(x) : x;
    const out = this.bn2.forward(this.conv2.forward(this.bn1.forward(this.conv1.forward(x)).relu()));
    return out.add(identity).relu();
  }
}

/** torchvision's Bottleneck (ResNet v1.5: the stride sits on the 3x3 conv). */
export class Bottleneck extends Module implements Block {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: Sequential | null = null) {
    super();
    this.conv1 = this.registerModule('conv1', conv1x1(inplanes, planes));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes, stride));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv3 = this.registerModule('conv3', conv1x1(planes, planes * 4));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(planes * 4));
    this.registerModule('relu', new ReLU());
    this.downsample = downsample ? this.registerModule('downsample', downsample) : null;
  }

  forward(x: Tensor): Tensor {
    const identity = this.downsample ? this.downsample.forward(x) : x;
    let out = this.bn1.forward(this.conv1.forward(x)).relu();
    out = this.bn2.forward(this.conv2.forward(out)).relu();
    out = this.bn3.forward(this.conv3.forward(out));
    return out.add(identity).relu();
  }
}

export type ResNetDepth = 18 | 34 | 50;
const LAYERS: Record<ResNetDepth, [number, number, number, number]> = { 18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3] };

export interface ResNetOptions {
  depth?: ResNetDepth;
  numClasses?: number;
  /** 'imagenet': 7x7/2 conv + max-pool (torchvision). 'cifar': 3x3/1 conv, no max-pool, for 32 px. */
  stem?: 'imagenet' | 'cifar';
}

export class ResNet extends Module {
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
  /** Width of the pooled penultimate features (512 for 18/34, 2048 for 50). */
  readonly numFeatures: number;

  constructor(o: ResNetOptions = {}) {
    super();
    this.depth = o.depth ?? 18;
    this.stem = o.stem ?? 'imagenet';
    const layers = LAYERS[this.depth];
    if (!layers) throw new EngineError(`ResNet: depth must be 18, 34 or 50, got ${String(o.depth)}`);
    const B = this.depth === 50 ? Bottleneck : BasicBlock;
    const expansion = B.expansion;
    let inplanes = 64;
    const makeLayer = (planes: number, blocks: number, stride: number): Sequential => {
      let down: Sequential | null = null;
      if (stride !== 1 || inplanes !== planes * expansion) {
        down = new Sequential(conv1x1(inplanes, planes * expansion, stride), new BatchNorm2d(planes * expansion));
      }
      const mods: Module[] = [new B(inplanes, planes, stride, down)];
      inplanes = planes * expansion;
      for (let i = 1; i < blocks; i++) mods.push(new B(inplanes, planes));
      return new Sequential(...mods);
    };
    this.conv1 = this.registerModule('conv1', this.stem === 'cifar'
      ? new Conv2d(3, 64, 3, { stride: 1, padding: 1, bias: false })
      : new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64));
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

  /** Global-average-pooled penultimate features [N, numFeatures]. */
  forwardFeatures(x: Tensor): Tensor {
    let y = this.maxpool.forward(this.bn1.forward(this.conv1.forward(x)).relu());
    y = this.layer4.forward(this.layer3.forward(this.layer2.forward(this.layer1.forward(y))));
    return this.avgpool.forward(y).flatten(1);
  }

  forward(x: Tensor): Tensor {
    return this.fc.forward(this.forwardFeatures(x));
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
