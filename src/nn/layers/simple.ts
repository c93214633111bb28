/** Parameter-free layers. */
import type { Tensor } from '../../tensor/tensor.js';
import { pair } from '../../tensor/validate.js';
import { adaptiveAvgPool2d, dropout, maxPool2d } from '../functional.js';
import { Module } from '../module.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

export class ReLU6 extends Module {
  forward(x: Tensor): Tensor {
    return x.relu6();
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Flattens dims startDim..endDim (nn.Flatten, default from dim 1). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

export class MaxPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  constructor(kernelSize: number | [number, number], o: { stride?: number | [number, number]; padding?: number | [number, number]; ceilMode?: boolean } = {}) {
    super();
    this.kernelSize = pair(kernelSize, 'kernelSize');
    this.stride = pair(o.stride ?? kernelSize, 'stride');
    this.padding = pair(o.padding ?? 0, 'padding');
    this.ceilMode = o.ceilMode ?? false;
  }
  readonly ceilMode: boolean;
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding, ceilMode: this.ceilMode });
  }
  override extraRepr(): string {
    return `kernel_size=${this.kernelSize[0]}, stride=${this.stride[0]}, padding=${this.padding[0]}`;
  }
}

export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: [number, number];
  constructor(outputSize: number | [number, number]) {
    super();
    this.outputSize = pair(outputSize, 'outputSize');
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
  override extraRepr(): string {
    return `output_size=(${this.outputSize.join(', ')})`;
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }
}
