/**
 * `saln`: the paper's spectral in-batch selection (selectSpectral) on one of three feature sources:
 *   - 'cache' (default, the paper's setting): pretrained features from the feature cache, looked
 *     up by sample id (ResNet-50 features in the paper);
 *   - 'pixels': the flattened input pixels (what the paper's code listing literally passes);
 *   - 'learner': the learner's own penultimate features, computed without gradients (eval mode).
 * The trainer provides ctx.features from the declared source; this only runs the selection.
 */
import { selectSpectral, type SpectralOptions } from '../../selection/index.js';
import type { SelectContext, Selector, SelectorNeeds } from './types.js';

export type FeatureSource = 'cache' | 'pixels' | 'learner';
export const FEATURE_SOURCES: readonly FeatureSource[] = ['cache', 'pixels', 'learner'];

export class SalnSelector implements Selector {
  readonly name = 'saln';
  readonly needs: SelectorNeeds;
  readonly source: FeatureSource;
  readonly spectral: Omit<SpectralOptions, 'filterRatio'>;

  constructor(source: FeatureSource = 'cache', spectral: Omit<SpectralOptions, 'filterRatio'> = {}) {
    this.source = source;
    this.spectral = spectral;
    this.needs = source === 'cache' ? { features: true } : source === 'pixels' ? { pixels: true } : { learnerFeatures: true };
  }

  select(ctx: SelectContext): number[] {
    if (!ctx.features) throw new Error(`saln: no features for the batch (source ${this.source})`);
    if (ctx.k >= ctx.batchSize) return Array.from({ length: ctx.batchSize }, (_, i) => i);
    // The filter ratio that gives exactly ctx.k here: the trainer owns k (it may be scheduled), and
    // selectSpectral computes k = trunc(B·(1 − r)); r = 1 − (k + 0.5)/B lands inside [k, k + 1).
    const r = 1 - (ctx.k + 0.5) / ctx.batchSize;
    const s = selectSpectral(ctx.features, { ...this.spectral, filterRatio: r });
    if (s.k !== ctx.k) throw new Error(`saln: selectSpectral kept ${s.k}, expected ${ctx.k}`);
    return s.indices;
  }
}
