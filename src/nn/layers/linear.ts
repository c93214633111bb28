import { empty } from '../../tensor/create.js';
import type { Tensor } from '../../tensor/tensor.js';
import { checkInt } from '../../tensor/validate.js';
import { linear } from '../functional.js';
import { defaultLayerInit_ } from '../init.js';
import { Module } from '../module.js';

/** y = x Wᵀ + b, weight [out, in] (nn.Linear). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, o: { bias?: boolean } = {}) {
    super();
    checkInt(inFeatures, 'inFeatures', 1);
    checkInt(outFeatures, 'outFeatures', 1);
    this.weight = this.registerParameter('weight', empty([outFeatures, inFeatures]));
    this.bias = this.registerParameter('bias', o.bias ?? true ? empty([outFeatures]) : null);
    this.resetParameters();
  }

  resetParameters(): void {
    defaultLayerInit_(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}
