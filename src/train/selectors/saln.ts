/**
 * `saln`: the paper's spectral in-batch selection (selectSpectral) on one of three feature sources:
 *   - 'cache' (default, the paper's setting): pretrained features from the feature cache, looked
 *     up by sample id (ResNet-50 features in the paper);
 *   - 'pixels': the flattened input pixels (what the paper's code listing literally passes);
 *   - 'learner': the learner's own penultimate features, computed without gradients (eval mode).
 *   - 'gradient': the learner's last-layer gradient embedding (src/train/embedding.ts), from the
 *     same forward.
 * The trainer provides ctx.features from the declared source; this only runs the selection.
 *
 * Variants beyond the paper, each its own method name (SALN_VARIANTS), to test which part of the
 * recipe matters: the graph (negative similarities clamped, the normalized Laplacian) or which
 * samples are kept along the Fiedler vector f (spread evenly along it, or the smallest |f|).
 */
import { selectSpectral, type SpectralOptions } from '../../selection/index.js';
import type { SelectContext, Selector, SelectorNeeds } from './types.js';

export type FeatureSource = 'cache' | 'pixels' | 'learner' | 'gradient';
export const FEATURE_SOURCES: readonly FeatureSource[] = ['cache', 'pixels', 'learner', 'gradient'];

/**
 * Which k samples are kept, given f:
 *   'largest'     the k largest |f| (the paper);
 *   'smallest'    the k smallest |f| (the samples nearest the cut);
 *   'stratified'  k samples spread evenly along f's order: ranks ⌊(i + ½)·n/k⌋, i < k, of f
 *                 ascending, f's sign fixed so that its largest-|f| entry is positive.
 */
export type FiedlerRank = 'largest' | 'smallest' | 'stratified';

export type SpectralSettings = Omit<SpectralOptions, 'filterRatio'>;

export interface SalnVariant {
  /** Graph options on top of the run's (solver). */
  spectral: SpectralSettings;
  rank: FiedlerRank;
  help: string;
}

/** saln and its variants, by method name. */
export const SALN_VARIANTS = {
  saln: { spectral: {}, rank: 'largest', help: 'the paper' },
  'saln-clamp': { spectral: { clampNegative: true }, rank: 'largest', help: 'negative cosine similarities clamped to 0' },
  // Negative similarities clamped too: the normalized Laplacian needs every degree > 0, which
  // features with negative cosines (pixels) break; ReLU features (cache, learner) have none.
  'saln-normalized': { spectral: { laplacian: 'symmetric', clampNegative: true }, rank: 'largest', help: 'normalized Laplacian I − D^-1/2 S D^-1/2 (on the clamped graph)' },
  'saln-stratified': { spectral: {}, rank: 'stratified', help: 'k samples spread evenly along the Fiedler order' },
  'saln-smallest': { spectral: {}, rank: 'smallest', help: 'the k smallest |f|' },
} as const satisfies Record<string, SalnVariant>;
export type SalnMethod = keyof typeof SALN_VARIANTS;

export interface SalnSelectorOptions {
  /** The method name it reports (default 'saln'). */
  name?: string;
  rank?: FiedlerRank;
}

/** What a selector on features from `source` declares it needs. */
export function featureNeeds(source: FeatureSource): SelectorNeeds {
  switch (source) {
    case 'cache': return { features: true };
    case 'pixels': return { pixels: true };
    case 'learner': return { learnerFeatures: true };
    case 'gradient': return { gradientEmbedding: true };
  }
}

export class SalnSelector implements Selector {
  readonly name: string;
  readonly needs: SelectorNeeds;
  readonly source: FeatureSource;
  readonly spectral: SpectralSettings;
  readonly rank: FiedlerRank;

  constructor(source: FeatureSource = 'cache', spectral: SpectralSettings = {}, o: SalnSelectorOptions = {}) {
    this.source = source;
    this.rank = o.rank ?? 'largest';
    this.name = o.name ?? 'saln';
    // Lanczos certifies the cut between the k largest |f| and the rest; other ranks need all of f.
    this.spectral = this.rank !== 'largest' && (spectral.solver ?? 'auto') === 'auto' ? { ...spectral, solver: 'eigh' } : spectral;
    this.needs = featureNeeds(source);
  }

  select(ctx: SelectContext): number[] {
    if (!ctx.features) throw new Error(`${this.name}: no features for the batch (source ${this.source})`);
    if (ctx.k >= ctx.batchSize) return Array.from({ length: ctx.batchSize }, (_, i) => i);
    // The filter ratio that gives exactly ctx.k here: the trainer owns k (it may be scheduled), and
    // selectSpectral computes k = trunc(B·(1 − r)); r = 1 − (k + 0.5)/B lands inside [k, k + 1).
    const r = 1 - (ctx.k + 0.5) / ctx.batchSize;
    const s = selectSpectral(ctx.features, { ...this.spectral, filterRatio: r });
    if (s.k !== ctx.k) throw new Error(`${this.name}: selectSpectral kept ${s.k}, expected ${ctx.k}`);
    if (this.rank === 'smallest') return smallestPositions(s.scores, ctx.k);
    if (this.rank === 'stratified') return stratifiedPositions(s.fiedler, ctx.k);
    return s.indices;
  }
}

/** Positions of the k smallest scores, ascending (ties: lower position first). */
export function smallestPositions(scores: Float64Array, k: number): number[] {
  return Array.from(scores.keys()).sort((a, b) => scores[a]! - scores[b]! || a - b).slice(0, k);
}

/** k positions at evenly spaced ranks of f ascending (see FiedlerRank 'stratified'), in rank order. */
export function stratifiedPositions(f: Float64Array, k: number): number[] {
  const n = f.length;
  let top = 0;
  for (let i = 1; i < n; i++) if (Math.abs(f[i]!) > Math.abs(f[top]!)) top = i;
  const sign = f[top]! < 0 ? -1 : 1;
  const order = Array.from(f.keys()).sort((a, b) => sign * (f[a]! - f[b]!) || a - b);
  return Array.from({ length: k }, (_, i) => order[Math.floor(((i + 0.5) * n) / k)]!);
}
