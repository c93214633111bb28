import { ones, tensor, zeros } from '../../tensor/create.js';
import { noGrad } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { checkInt } from '../../tensor/validate.js';
import { batchNorm } from '../functional.js';
import { Module } from '../module.js';

export interface BatchNorm2dOptions {
  eps?: number;
  /** Weight of the new batch statistic in the running average (PyTorch's convention, default 0.1). */
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/**
 * Batch normalization over [N, C, H, W] (nn.BatchNorm2d). Training mode normalizes with the
 * batch's statistics and updates running_mean / running_var (unbiased) in place; eval mode uses
 * the running statistics.
 */
export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number;

  constructor(readonly numFeatures: number, o: BatchNorm2dOptions = {}) {
    super();
    checkInt(numFeatures, 'numFeatures', 1);
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    const affine = o.affine ?? true;
    const track = o.trackRunningStats ?? true;
    this.weight = this.registerParameter('weight', affine ? ones([numFeatures]) : null);
    this.bias = this.registerParameter('bias', affine ? zeros([numFeatures]) : null);
    this.runningMean = this.registerBuffer('running_mean', track ? zeros([numFeatures]) : null);
    this.runningVar = this.registerBuffer('running_var', track ? ones([numFeatures]) : null);
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', track ? tensor([0], { dtype: 'int64', shape: [] }) : null);
  }

  forward(x: Tensor): Tensor {
    const useBatchStats = this.training || this.runningMean === null;
    if (this.training && this.numBatchesTracked) noGrad(() => this.numBatchesTracked!.add_(1));
    return batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight, bias: this.bias, training: useBatchStats, momentum: this.momentum, eps: this.eps,
    });
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.weight !== null}, track_running_stats=${this.runningMean !== null}`;
  }
}
