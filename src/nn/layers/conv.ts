import { EngineError } from '../../binding/errors.js';
import { empty } from '../../tensor/create.js';
import type { Tensor } from '../../tensor/tensor.js';
import { checkInt, pair } from '../../tensor/validate.js';
import { conv2d } from '../functional.js';
import { defaultLayerInit_ } from '../init.js';
import { Module } from '../module.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
  bias?: boolean;
}

/** 2-D convolution over [N, C, H, W]; weight [out, in/groups, kh, kw] (nn.Conv2d). */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: number | [number, number], o: Conv2dOptions = {}) {
    super();
    checkInt(inChannels, 'inChannels', 1);
    checkInt(outChannels, 'outChannels', 1);
    this.groups = checkInt(o.groups ?? 1, 'groups', 1);
    if (inChannels % this.groups) throw new EngineError(`Conv2d: inChannels (${inChannels}) must be divisible by groups (${this.groups})`);
    if (outChannels % this.groups) throw new EngineError(`Conv2d: outChannels (${outChannels}) must be divisible by groups (${this.groups})`);
    const k = pair(kernelSize, 'kernelSize');
    this.stride = pair(o.stride ?? 1, 'stride');
    this.padding = pair(o.padding ?? 0, 'padding');
    this.dilation = pair(o.dilation ?? 1, 'dilation');
    this.weight = this.registerParameter('weight', empty([outChannels, inChannels / this.groups, k[0], k[1]]));
    this.bias = this.registerParameter('bias', o.bias ?? true ? empty([outChannels]) : null);
    this.resetParameters();
  }

  resetParameters(): void {
    defaultLayerInit_(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  override extraRepr(): string {
    const k = this.weight.shape.slice(2);
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=(${k.join(', ')}), stride=(${this.stride.join(', ')})`;
    if (this.padding.some(Boolean)) s += `, padding=(${this.padding.join(', ')})`;
    if (this.dilation.some((d) => d !== 1)) s += `, dilation=(${this.dilation.join(', ')})`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ', bias=False';
    return s;
  }
}
