/**
 * How many samples a batch draws and how many it trains, in the two selection modes:
 *
 *   in-batch     (the paper) draw B, train k = floor(B·(1 − f)) of them (25 of 128 at f = 0.8);
 *   super-batch  (JEST, RHO-LOSS) draw D = ⌈B / (1 − f)⌉, score all D, train exactly B.
 *
 * A partial last batch of b < drawn keeps max(1, trunc(b·(1 − f))) in-batch, and the same
 * proportion as a full super-batch, max(1, min(B, floor(b·B/D))), in super-batch mode.
 */
import { keptCount } from '../selection/index.js';

export const SELECTION_MODES = ['in-batch', 'super-batch'] as const;
export type SelectionMode = (typeof SELECTION_MODES)[number];

/**
 * Step-size scaling for a trained batch of k < B: 'none' keeps lr (the paper's setting: a constant
 * learning rate whatever k), 'linear' uses lr·k/B for that step.
 */
export const LR_SCALINGS = ['none', 'linear'] as const;
export type LrScaling = (typeof LR_SCALINGS)[number];

export const DEVICES = ['cpu', 'cuda'] as const;
export type TrainDevice = (typeof DEVICES)[number];

/** The number of samples one batch draws (and scores) for a trained batch size B at filter ratio f. */
export function drawnBatchSize(mode: SelectionMode, batchSize: number, filterRatio: number): number {
  if (mode === 'in-batch') return batchSize;
  if (!(filterRatio >= 0 && filterRatio < 1)) throw new RangeError(`Expected a filter ratio in [0, 1) but received ${filterRatio}`);
  // The epsilon absorbs rounding: 128 / (1 − 0.8) is 640.0000000000001 in floating point, not 641.
  return Math.ceil(batchSize / (1 - filterRatio) - 1e-9);
}

/**
 * k for a drawn batch of b at this filter ratio (see the file comment): keptCount (selection/) for
 * a full in-batch batch, and the proportional rule for partial batches and super-batches.
 */
export function keepFor(b: number, filterRatio: number, batchSize: number, mode: SelectionMode = 'in-batch'): number {
  if (mode === 'super-batch') {
    const drawn = drawnBatchSize(mode, batchSize, filterRatio);
    if (b >= drawn) return batchSize;
    return Math.max(1, Math.min(batchSize, Math.floor((b * batchSize) / drawn)));
  }
  if (b === batchSize) return keptCount(b, filterRatio);
  return Math.max(1, Math.trunc(b * (1 - filterRatio)));
}
