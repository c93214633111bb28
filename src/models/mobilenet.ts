/**
 * MobileNetV1 (Howard et al. 2017) with a width multiplier, laid out as Keras Applications'
 * mobilenet.py (the TensorFlow.js `mobilenet_v1_<alpha>_224` models): a 3x3/2 conv, then 13
 * depthwise-separable blocks (3x3 depthwise conv + BN + ReLU6, 1x1 conv + BN + ReLU6), global
 * average pooling, dropout and a classifier. Convs have no bias; BN epsilon is Keras' 1e-3.
 *
 * Keys: `conv1.weight`, `bn1.*`, `blocks.<i>.conv_dw.weight`, `blocks.<i>.bn_dw.*`,
 * `blocks.<i>.conv_pw.weight`, `blocks.<i>.bn_pw.*`, `fc.weight`, `fc.bias` (Keras' block_id i+1).
 *
 * `padding: 'tf'` (default) reproduces TensorFlow's 'same' padding, which on even inputs pads a
 * stride-2 3x3 conv by 0 before and 1 after; 'torch' pads 1 on both sides (a PyTorch port's choice;
 * imported Keras weights then give slightly different outputs).
 *
 *   const m = mobilenetV1({ alpha: 0.75, numClasses: 10 });
 *   const f = m.forwardFeatures(x);   // [N, 768]
 */
import { EngineError } from '../binding/errors.js';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, init, Linear, Module, Sequential } from '../nn/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkInt, checkNumber } from '../tensor/validate.js';
import { FinetunableModel } from './finetune.js';
import { chain, TfSameConv2d } from './layers.js';

export interface MobileNetV1Options {
  /** Width multiplier: every layer has floor(channels * alpha) channels, as Keras. Default 1. */
  alpha?: number;
  /** Depthwise channel multiplier (Keras depth_multiplier). Default 1. */
  depthMultiplier?: number;
  numClasses?: number;
  /** 'tf' (default): TensorFlow 'same' padding; 'torch': symmetric k//2. */
  padding?: 'tf' | 'torch';
  /** BatchNorm epsilon; default 1e-3 (Keras). */
  bnEps?: number;
  /** Dropout before the classifier; default 1e-3 (Keras' default). */
  dropout?: number;
}

/** [pointwise filters (before alpha), stride] of Keras' blocks 1..13. */
const BLOCKS: ReadonlyArray<[number, number]> = [
  [64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2],
  [512, 1], [512, 1], [512, 1], [512, 1], [512, 1], [1024, 2], [1024, 1],
];

function conv(padding: 'tf' | 'torch', inp: number, out: number, k: number, stride: number, groups = 1): Conv2d {
  return padding === 'tf'
    ? new TfSameConv2d(inp, out, k, { stride, groups, bias: false })
    : new Conv2d(inp, out, k, { stride, padding: Math.floor(k / 2), groups, bias: false });
}

/** One depthwise-separable block: 3x3 depthwise conv, BN, ReLU6, 1x1 conv, BN, ReLU6. */
export class DepthwiseSeparable extends Module {
  readonly conv_dw: Conv2d;
  readonly bn_dw: BatchNorm2d;
  readonly conv_pw: Conv2d;
  readonly bn_pw: BatchNorm2d;

  constructor(inp: number, out: number, stride: number, o: { padding: 'tf' | 'torch'; eps: number; depthMultiplier: number }) {
    super();
    const mid = inp * o.depthMultiplier;
    this.conv_dw = this.registerModule('conv_dw', conv(o.padding, inp, mid, 3, stride, inp));
    this.bn_dw = this.registerModule('bn_dw', new BatchNorm2d(mid, { eps: o.eps }));
    this.conv_pw = this.registerModule('conv_pw', conv(o.padding, mid, out, 1, 1));
    this.bn_pw = this.registerModule('bn_pw', new BatchNorm2d(out, { eps: o.eps }));
  }

  forward(x: Tensor): Tensor {
    return chain(x,
      (t) => this.conv_dw.forward(t), (t) => this.bn_dw.forward(t), (t) => t.relu6_(),
      (t) => this.conv_pw.forward(t), (t) => this.bn_pw.forward(t), (t) => t.relu6_());
  }
}

export class MobileNetV1 extends FinetunableModel {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly blocks: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly dropout: Dropout;
  readonly fc: Linear;
  readonly alpha: number;
  readonly padding: 'tf' | 'torch';
  /** Width of the pooled penultimate features (768 for alpha 0.75). */
  readonly numFeatures: number;

  constructor(o: MobileNetV1Options = {}) {
    super();
    this.alpha = checkNumber(o.alpha ?? 1, 'alpha', 1e-3, 16);
    const dm = checkInt(o.depthMultiplier ?? 1, 'depthMultiplier', 1);
    this.padding = o.padding ?? 'tf';
    if (this.padding !== 'tf' && this.padding !== 'torch') throw new EngineError(`MobileNetV1: padding must be 'tf' or 'torch', got ${String(o.padding)}`);
    const eps = checkNumber(o.bnEps ?? 1e-3, 'bnEps', 0);
    // Python's int(filters * alpha), exactly as Keras computes it.
    const width = (c: number): number => Math.max(1, Math.trunc(c * this.alpha));
    const stemOut = width(32);
    this.conv1 = this.registerModule('conv1', conv(this.padding, 3, stemOut, 3, 2));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(stemOut, { eps }));
    let c = stemOut;
    const blocks: Module[] = [];
    for (const [filters, stride] of BLOCKS) {
      const out = width(filters);
      blocks.push(new DepthwiseSeparable(c, out, stride, { padding: this.padding, eps, depthMultiplier: dm }));
      c = out;
    }
    this.blocks = this.registerModule('blocks', new Sequential(...blocks));
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.dropout = this.registerModule('dropout', new Dropout(checkNumber(o.dropout ?? 1e-3, 'dropout', 0, 1)));
    this.numFeatures = c;
    this.fc = this.registerModule('fc', new Linear(c, checkInt(o.numClasses ?? 1000, 'numClasses', 1)));
    // torchvision's MobileNet init: He-normal (fan_out) convs, BN 1/0, classifier N(0, 0.01) with zero bias.
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d) init.kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
    }
    init.normal_(this.fc.weight, 0, 0.01);
    if (this.fc.bias) init.constant_(this.fc.bias, 0);
  }

  /** Stage names: 'stem', 'block1'…'block13' (Keras' block ids), 'fc'. */
  stages(): Array<[string, Module[]]> {
    return [
      ['stem', [this.conv1, this.bn1]],
      ...this.blocks.layers.map((b, i): [string, Module[]] => [`block${i + 1}`, [b]]),
      ['fc', [this.fc]],
    ];
  }

  /** The stem's output (after ReLU6), [N, width(32), H/2, W/2]. */
  forwardStem(x: Tensor): Tensor {
    return chain(x, (t) => this.conv1.forward(t), (t) => this.bn1.forward(t), (t) => t.relu6_());
  }

  /** Global-average-pooled penultimate features [N, numFeatures]; intermediates are freed as consumed (see chain()). */
  forwardFeatures(x: Tensor): Tensor {
    return chain(x, (t) => this.forwardStem(t), ...this.blocks.layers.map((b) => (t: Tensor) => b.forward(t)), (t) => this.avgpool.forward(t), (t) => t.flatten(1));
  }

  forward(x: Tensor): Tensor {
    return chain(x, (t) => this.forwardFeatures(t), (t) => this.dropout.forward(t), (t) => this.fc.forward(t));
  }

  override extraRepr(): string {
    return `alpha=${this.alpha}, padding='${this.padding}'`;
  }
}

export function mobilenetV1(o: MobileNetV1Options = {}): MobileNetV1 {
  return new MobileNetV1(o);
}
