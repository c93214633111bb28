/**
 * Geometric coreset selectors on the same features as saln (the cache by default): `kcenter`
 * (k-center greedy) and `craig` (CRAIG's weighted facility location). See src/selection/coreset.ts.
 */
import { deriveSeed, Rng } from '../../data/rng.js';
import { facilityLocation, kCenterGreedy } from '../../selection/index.js';
import { featureNeeds, type FeatureSource } from './saln.js';
import type { SelectContext, Selector, SelectorNeeds } from './types.js';

function allPositions(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * k-center greedy from a seeded random first point (seeded by (seed, epoch, batch index), like
 * `random`, so it needs no state); the kept positions come back in the order chosen.
 */
export class KCenterSelector implements Selector {
  readonly name = 'kcenter';
  readonly needs: SelectorNeeds;
  readonly source: FeatureSource;

  constructor(source: FeatureSource = 'cache') {
    this.source = source;
    this.needs = featureNeeds(source);
  }

  select(ctx: SelectContext): number[] {
    if (!ctx.features) throw new Error(`kcenter: no features for the batch (source ${this.source})`);
    if (ctx.k >= ctx.batchSize) return allPositions(ctx.batchSize);
    const first = new Rng(deriveSeed(ctx.seed, 'select-kcenter', ctx.epoch, ctx.batchIndex)).int(ctx.batchSize);
    return kCenterGreedy(ctx.features, ctx.k, first);
  }
}

/**
 * CRAIG (Mirzasoleiman et al. 2020) inside the batch: greedy facility location on cosine
 * similarity keeps k samples, and each is weighted by how many batch samples it stands for,
 * scaled by k/B so the weights average 1 over the kept samples. The trainer's weighted mean
 * loss (1/k)·Σ w_j ℓ_j = (1/B)·Σ_j count_j·ℓ_j then estimates the full batch's mean loss.
 * The weights of the last selection are held by id until weights() asks for them. Unweighted
 * (`weighted: false`) it has no weights(), and the kept samples train as any selector's do.
 */
export class CraigSelector implements Selector {
  readonly name = 'craig';
  readonly needs: SelectorNeeds;
  readonly source: FeatureSource;
  /** The last selection's weights by id; a batch kept whole (no select() call) weighs 1 each. */
  readonly weights?: (ids: readonly string[]) => Float32Array;
  #weights = new Map<string, number>();

  constructor(source: FeatureSource = 'cache', o: { weighted?: boolean } = {}) {
    this.source = source;
    this.needs = featureNeeds(source);
    if (o.weighted ?? true) this.weights = (ids) => this.#weightsOf(ids);
  }

  select(ctx: SelectContext): number[] {
    if (!ctx.features) throw new Error(`craig: no features for the batch (source ${this.source})`);
    this.#weights.clear();
    if (ctx.k >= ctx.batchSize) return allPositions(ctx.batchSize);
    const { indices, counts } = facilityLocation(ctx.features, ctx.k);
    if (this.weights) indices.forEach((p, i) => this.#weights.set(ctx.ids[p]!, (counts[i]! * ctx.k) / ctx.batchSize));
    return indices;
  }

  #weightsOf(ids: readonly string[]): Float32Array {
    const found = ids.filter((id) => this.#weights.has(id)).length;
    if (found === 0) return new Float32Array(ids.length).fill(1);
    if (found !== ids.length) throw new Error(`craig: weights asked for ${ids.length} samples, of which only ${found} were in the last selection`);
    return Float32Array.from(ids, (id) => this.#weights.get(id)!);
  }
}
