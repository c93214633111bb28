/** In-batch selectors behind one interface, and the registry the trainer and CLI build them from. */
import { LossTopKSelector, NoneSelector, RandomSelector } from './basic.js';
import { SalnSelector, type FeatureSource } from './saln.js';
import { JestSelector, RhoLossSelector } from './reference.js';
import { InfoBatchSelector } from './infobatch.js';
import type { Selector } from './types.js';

export * from './types.js';
export { NoneSelector, RandomSelector, LossTopKSelector, topKPositions } from './basic.js';
export { SalnSelector, FEATURE_SOURCES, type FeatureSource } from './saln.js';
export { JestSelector, RhoLossSelector } from './reference.js';
export { InfoBatchSelector } from './infobatch.js';

/** Methods this version implements. */
export const METHODS = ['none', 'random', 'saln', 'loss-topk', 'jest', 'rho-loss', 'infobatch'] as const;
export type Method = (typeof METHODS)[number];
/** Methods that need a reference model's losses. */
export const REFERENCE_METHODS: readonly string[] = ['jest', 'rho-loss'];

export interface SelectorOptions {
  /** saln: where the features come from (default 'cache'). */
  featureSource?: FeatureSource;
  /** saln: the spectral solver (default 'auto'). */
  solver?: 'auto' | 'eigh' | 'lanczos';
  /** jest: chunks (default 16). */
  jestChunks?: number;
  /** infobatch: the pruning probability r (the run's filter ratio). */
  filterRatio?: number;
}

export function createSelector(method: Method, o: SelectorOptions = {}): Selector {
  switch (method) {
    case 'none': return new NoneSelector();
    case 'random': return new RandomSelector();
    case 'loss-topk': return new LossTopKSelector();
    case 'rho-loss': return new RhoLossSelector();
    case 'infobatch': return new InfoBatchSelector({ ratio: o.filterRatio ?? 0 });
    case 'jest': return new JestSelector({ chunks: o.jestChunks });
    case 'saln': return new SalnSelector(o.featureSource ?? 'cache', { solver: o.solver ?? 'auto' });
    default: throw new Error(`unknown method ${JSON.stringify(method)}; methods: ${METHODS.join(', ')}`);
  }
}
