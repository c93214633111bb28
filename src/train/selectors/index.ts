/** In-batch selectors behind one interface, and the registry the trainer and CLI build them from. */
import { LossTopKSelector, NoneSelector, RandomBalancedSelector, RandomSelector } from './basic.js';
import { CraigSelector, KCenterSelector } from './coreset.js';
import { SALN_VARIANTS, SalnSelector, type FeatureSource, type SalnMethod } from './saln.js';
import { JestSelector, RhoDiverseSelector, RhoLossSelector } from './reference.js';
import { InBatchInfoBatchSelector, InfoBatchSelector } from './infobatch.js';
import type { Selector } from './types.js';

export * from './types.js';
export { NoneSelector, RandomSelector, RandomBalancedSelector, LossTopKSelector, topKPositions } from './basic.js';
export { SalnSelector, FEATURE_SOURCES, SALN_VARIANTS, featureNeeds, smallestPositions, stratifiedPositions, type FeatureSource, type FiedlerRank, type SalnMethod } from './saln.js';
export { KCenterSelector, CraigSelector } from './coreset.js';
export { JestSelector, RhoDiverseSelector, RhoLossSelector } from './reference.js';
export { InfoBatchSelector, InBatchInfoBatchSelector } from './infobatch.js';

/** Methods this version implements. */
export const METHODS = [
  'none', 'random', 'saln', 'loss-topk', 'jest', 'rho-loss', 'infobatch',
  'random-balanced', 'kcenter', 'craig', 'saln-clamp', 'saln-normalized', 'saln-stratified', 'saln-smallest', 'rho-diverse',
] as const;
export type Method = (typeof METHODS)[number];
/** Methods that need a reference model's losses. */
export const REFERENCE_METHODS: readonly string[] = ['jest', 'rho-loss', 'rho-diverse'];
/** Methods on features from --feature-source (cached features by default). */
export const FEATURE_METHODS: readonly string[] = [...Object.keys(SALN_VARIANTS), 'kcenter', 'craig', 'rho-diverse'];

export interface SelectorOptions {
  /** saln (and its variants), kcenter, craig, rho-diverse: where the features come from (default 'cache'). */
  featureSource?: FeatureSource;
  /** saln and its variants: the spectral solver (default 'auto'). */
  solver?: 'auto' | 'eigh' | 'lanczos';
  /** jest: chunks (default 16). */
  jestChunks?: number;
  /** infobatch: the pruning probability r (the run's filter ratio). */
  filterRatio?: number;
  /** infobatch: 'official' (the epoch's index list is pruned) or 'in-batch' (default, pruned inside each batch). */
  infobatchMode?: 'official' | 'in-batch';
  /** craig: weight the kept samples by the batch samples each stands for (default true). */
  craigWeights?: boolean;
}

export function createSelector(method: Method, o: SelectorOptions = {}): Selector {
  switch (method) {
    case 'none': return new NoneSelector();
    case 'random': return new RandomSelector();
    case 'loss-topk': return new LossTopKSelector();
    case 'rho-loss': return new RhoLossSelector();
    case 'infobatch': return o.infobatchMode === 'official' ? new InfoBatchSelector({ ratio: o.filterRatio ?? 0 }) : new InBatchInfoBatchSelector({ ratio: o.filterRatio ?? 0 });
    case 'jest': return new JestSelector({ chunks: o.jestChunks });
    case 'random-balanced': return new RandomBalancedSelector();
    case 'kcenter': return new KCenterSelector(o.featureSource ?? 'cache');
    case 'craig': return new CraigSelector(o.featureSource ?? 'cache', { weighted: o.craigWeights ?? true });
    case 'rho-diverse': return new RhoDiverseSelector(o.featureSource ?? 'cache');
    case 'saln': case 'saln-clamp': case 'saln-normalized': case 'saln-stratified': case 'saln-smallest': {
      const v = SALN_VARIANTS[method satisfies SalnMethod];
      return new SalnSelector(o.featureSource ?? 'cache', { ...v.spectral, solver: o.solver ?? 'auto' }, { name: method, rank: v.rank });
    }
    default: throw new Error(`unknown method ${JSON.stringify(method)}; methods: ${METHODS.join(', ')}`);
  }
}
