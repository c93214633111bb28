/**
 * Selectors that compare the learner with a reference model.
 *
 * `rho-loss` (Mindermann et al. 2022): the k highest reducible losses, learner loss − irreducible
 * loss, where the irreducible-loss model was trained on a holdout split (OATML/RHO-Loss
 * src/curricula/selection_methods.py, reducible_loss_selection: top_x_indices of
 * model_loss − irreducible_loss). How the losses are made (precomputed by id, train-mode
 * scoring) is the trainer's: reference-scores.ts, step.ts, reference.ts.
 *
 * `jest` (Evans et al. 2024): learnability = learner loss − reference loss, per sample; the k kept
 * samples are drawn in n chunks (default 16), each chunk by softmax sampling without replacement
 * over the samples not yet chosen, conditioned on the chunks already chosen. JEST's conditioning
 * matters for its contrastive loss, where a sample's loss depends on the others in the sub-batch.
 * With per-sample cross-entropy the sub-batch's learnability is the sum of the samples' own, so
 * the joint term vanishes: the conditional distribution of each chunk is softmax of the same
 * per-sample scores over the remaining samples, and the method reduces to independent
 * learnability sampling without replacement. It is implemented faithfully all the same: chunk by
 * chunk, each chunk's scores recomputed given the chosen set (here: unchanged), drawn with a
 * seeded generator from (seed, epoch, batch). Super-batch selection mode is its paper's setting
 * (and the recommended one); it shares rho-loss's reference machinery (precomputed scores).
 */
import { deriveSeed, Rng } from '../../data/rng.js';
import { facilityLocation } from '../../selection/index.js';
import { topKPositions } from './basic.js';
import { featureNeeds, type FeatureSource } from './saln.js';
import type { SelectContext, Selector, SelectorNeeds } from './types.js';

function learnability(ctx: SelectContext, who: string): Float64Array {
  const l = ctx.learnerLoss;
  const r = ctx.referenceLoss;
  if (!l || !r || l.length !== ctx.batchSize || r.length !== ctx.batchSize) throw new Error(`${who}: expected ${ctx.batchSize} learner and reference losses`);
  return Float64Array.from(l, (v, i) => v - r[i]!);
}

export class RhoLossSelector implements Selector {
  readonly name = 'rho-loss';
  readonly needs = { learnerLoss: true, referenceLoss: true };
  select(ctx: SelectContext): number[] {
    return topKPositions(learnability(ctx, 'rho-loss'), ctx.k);
  }
}

export class JestSelector implements Selector {
  readonly name = 'jest';
  readonly needs = { learnerLoss: true, referenceLoss: true };
  /** Number of chunks the k samples are drawn in (at most k). */
  readonly chunks: number;
  /** Softmax temperature over learnability (1: the paper's). */
  readonly temperature: number;
  constructor(o: { chunks?: number; temperature?: number } = {}) {
    this.chunks = o.chunks ?? 16;
    this.temperature = o.temperature ?? 1;
    if (!(Number.isInteger(this.chunks) && this.chunks >= 1)) throw new RangeError(`Expected an integer >= 1 for chunks but received ${this.chunks}`);
    if (!(this.temperature > 0)) throw new RangeError(`Expected a number > 0 for temperature but received ${this.temperature}`);
  }

  /**
   * The score of candidate i given the chosen set: the learnability of chosen ∪ {i} minus that of
   * chosen. For per-sample losses that is s_i, whatever was chosen (see the file comment).
   */
  conditionalScore(s: Float64Array, _chosen: readonly number[], i: number): number {
    return s[i]!;
  }

  select(ctx: SelectContext): number[] {
    const s = learnability(ctx, 'jest');
    const rng = new Rng(deriveSeed(ctx.seed, 'select-jest', ctx.epoch, ctx.batchIndex));
    const n = Math.min(this.chunks, ctx.k);
    const chosen: number[] = [];
    const taken = new Uint8Array(ctx.batchSize);
    for (let c = 0; c < n; c++) {
      // Chunk sizes differ by at most one and add up to k.
      const size = Math.floor(((c + 1) * ctx.k) / n) - Math.floor((c * ctx.k) / n);
      const cond = chosen.slice();
      for (let j = 0; j < size; j++) {
        // One softmax draw over the remaining candidates (sequential draws = sampling without replacement).
        let max = -Infinity;
        for (let i = 0; i < ctx.batchSize; i++) if (!taken[i]) max = Math.max(max, this.conditionalScore(s, cond, i) / this.temperature);
        let total = 0;
        const w = new Float64Array(ctx.batchSize);
        for (let i = 0; i < ctx.batchSize; i++) {
          if (taken[i]) continue;
          const v = this.conditionalScore(s, cond, i) / this.temperature;
          w[i] = Number.isFinite(max) ? Math.exp(v - max) : 1;
          total += w[i]!;
        }
        let u = rng.next() * total;
        let pick = -1;
        for (let i = 0; i < ctx.batchSize; i++) {
          if (taken[i]) continue;
          pick = i;
          u -= w[i]!;
          if (u < 0) break;
        }
        taken[pick] = 1;
        chosen.push(pick);
      }
    }
    return chosen;
  }
}

/**
 * `rho-diverse` (issue 18's learnability × diversity candidate): facility location on the batch's
 * features (CRAIG's greedy, as `craig`) splits the batch into k clusters, each sample joining its
 * most similar centre; from each cluster the sample with the highest reducible loss (learner −
 * reference, as rho-loss) is kept, so the kept set covers the batch and learns from each part.
 * A cluster left empty (duplicate rows) gives its place to the most learnable sample not kept.
 */
export class RhoDiverseSelector implements Selector {
  readonly name = 'rho-diverse';
  readonly needs: SelectorNeeds;
  readonly source: FeatureSource;
  constructor(source: FeatureSource = 'cache') {
    this.source = source;
    this.needs = { ...featureNeeds(source), learnerLoss: true, referenceLoss: true };
  }

  select(ctx: SelectContext): number[] {
    if (!ctx.features) throw new Error(`rho-diverse: no features for the batch (source ${this.source})`);
    const s = learnability(ctx, 'rho-diverse');
    if (ctx.k >= ctx.batchSize) return Array.from({ length: ctx.batchSize }, (_, i) => i);
    const { assignment } = facilityLocation(ctx.features, ctx.k);
    const best = new Array<number>(ctx.k).fill(-1);
    assignment.forEach((c, i) => {
      if (best[c]! < 0 || s[i]! > s[best[c]!]!) best[c] = i;
    });
    const kept = best.filter((i) => i >= 0);
    if (kept.length < ctx.k) {
      const taken = new Set(kept);
      const rest = topKPositions(Float64Array.from(s, (v, i) => (taken.has(i) ? -Infinity : v)), ctx.k - kept.length);
      kept.push(...rest);
    }
    return kept;
  }
}
