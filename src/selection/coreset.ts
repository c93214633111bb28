/**
 * Two geometric coreset selections on a batch's feature rows, for comparison with SALN:
 *   kCenterGreedy      k-center greedy (Sener & Savarese 2018's core-set): repeatedly add the row
 *                      farthest from the chosen set, Euclidean on L2-normalized rows;
 *   facilityLocation   CRAIG's greedy (Mirzasoleiman et al. 2020): maximize
 *                      F(S) = Σ_i max_{j∈S} sim(i, j) on cosine similarity shifted to [0, 2], and
 *                      count how many rows each kept one stands for (its CRAIG weight).
 * Both build the [n, n] similarity once as a batched op; the greedy loops are k steps over [n].
 * A zero row is similar to nothing (cosine 0) and at distance 1 from every unit row.
 */
import { noGrad, tensor, tidy, type Tensor } from '../tensor/index.js';
import { cosineSimilarity } from './cosine.js';

/** Checks k against n rows, with a clear message. */
function checkK(n: number, k: number, what: string): void {
  if (!(Number.isInteger(k) && k >= 1 && k <= n)) throw new RangeError(`${what}: k must be an integer in [1, ${n}], got ${k}`);
}

/** The index of the largest value among those not taken (ties: lower index first), or -1. */
function argmaxFree(v: Float64Array, taken: Uint8Array): number {
  let best = -1;
  for (let i = 0; i < v.length; i++) if (!taken[i] && (best < 0 || v[i]! > v[best]!)) best = i;
  return best;
}

/**
 * Squared Euclidean distances of the L2-normalized rows, float64 [n, n] as a flat row-major array:
 * ‖x̂_i − x̂_j‖² = ‖x̂_i‖² + ‖x̂_j‖² − 2·x̂_i·x̂_j, where ‖x̂_i‖² is 1 (0 for a zero row).
 */
export function normalizedSquaredDistances(features: Tensor): Float64Array {
  return noGrad(() => tidy(() => {
    const s = cosineSimilarity(features.ndim === 2 ? features : features.flatten(1));
    const sq = s.diag();
    return sq.unsqueeze(1).add(sq.unsqueeze(0)).sub(s.mul(2)).clamp(0).toTypedArray<'float64'>() as Float64Array;
  }));
}

/**
 * k-center greedy: starts from row `first`, then adds, k − 1 times, the row whose distance to its
 * nearest chosen row is largest (ties: lower index first). Returns the rows in the order chosen.
 */
export function kCenterGreedy(features: Tensor, k: number, first: number): number[] {
  const n = features.shape[0]!;
  checkK(n, k, 'kCenterGreedy');
  if (!(Number.isInteger(first) && first >= 0 && first < n)) throw new RangeError(`kCenterGreedy: first must be a row in [0, ${n}), got ${first}`);
  const d = normalizedSquaredDistances(features);
  const nearest = d.slice(first * n, (first + 1) * n);
  const taken = new Uint8Array(n);
  taken[first] = 1;
  const chosen = [first];
  while (chosen.length < k) {
    const j = argmaxFree(nearest, taken);
    taken[j] = 1;
    chosen.push(j);
    for (let i = 0; i < n; i++) nearest[i] = Math.min(nearest[i]!, d[j * n + i]!);
  }
  return chosen;
}

export interface FacilityLocationResult {
  /** The kept rows, in the order the greedy chose them. */
  indices: number[];
  /** For each kept row (same order), how many of the n rows have it as their most similar kept row; they sum to n. */
  counts: number[];
  /** For each of the n rows, the position in `indices` of its most similar kept row (its cluster). */
  assignment: number[];
  /** F(S) = Σ_i max_{j∈S} (1 + cos(i, j)) of the kept set. */
  objective: number;
}

/**
 * Greedy facility location on sim = 1 + cosine ∈ [0, 2] (nonnegative, so F is monotone
 * submodular and the greedy is CRAIG's (1 − 1/e) approximation). Each step adds the row of
 * largest marginal gain Σ_i max(0, sim(i, j) − cur_i) (ties: lower index first). Each row is then
 * assigned to its most similar kept row (ties: the one chosen first); `counts` are the cluster sizes.
 */
export function facilityLocation(features: Tensor, k: number): FacilityLocationResult {
  const n = features.shape[0]!;
  checkK(n, k, 'facilityLocation');
  return noGrad(() => tidy(() => {
    const sim = cosineSimilarity(features.ndim === 2 ? features : features.flatten(1)).add(1);
    const taken = new Uint8Array(n);
    const indices: number[] = [];
    let cur = tensor(new Float64Array(n));
    for (let t = 0; t < k; t++) {
      // gains[j] = Σ_i max(0, sim[i, j] − cur[i]); one [n, n] op per step, freed at once.
      const gains = tidy(() => sim.sub(cur.unsqueeze(1)).clamp(0).sum(0).toTypedArray<'float64'>() as Float64Array);
      const j = argmaxFree(gains, taken);
      taken[j] = 1;
      indices.push(j);
      cur = tidy(() => cur.maximum(sim.select(1, j)));
    }
    const nearest = sim.indexSelect(1, tensor(indices, { dtype: 'int64' })).argmax(1).toArray() as number[];
    const counts = new Array<number>(k).fill(0);
    for (const a of nearest) counts[a]!++;
    return { indices, counts, assignment: nearest, objective: cur.sum().item() };
  }));
}
