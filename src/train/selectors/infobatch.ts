/**
 * `infobatch` (Qin et al., ICLR 2024) in two modes (TrainConfig.infobatchMode):
 *
 * 'official' (InfoBatchSelector below it; the run option's default) follows the official code,
 * NUS-HPC-AI-Lab/InfoBatch infobatch/infobatch.py (InfoBatch.prune, IBSampler.reset,
 * InfoBatch.update):
 *   - every sample's score starts at 3 and becomes its last training loss (unweighted);
 *   - at each epoch's start the well-learned set is the samples scoring below the mean score;
 *     exactly int(keep·|well-learned|) of them, drawn without replacement, stay (keep = 1 − r,
 *     clamped to [0.1, 1]) and get loss weight 1/keep; the others leave the epoch's index list,
 *     which is shuffled: batches stay full and the epoch takes fewer optimizer steps;
 *   - annealing: the sampler counts its resets and its constructor's reset takes count 0, so epoch
 *     e (0-based) is reset number e + 1 and is pruned while e + 1 <= δ·E (δ = 0.875): epochs
 *     e < ⌊δ·E⌋ prune (E = 8: epochs 0–6, epoch 7 anneals; E = 25: epochs 0–20, 21–24 anneal).
 *     The weights are reset only at the reset whose count equals δ·E + 1 exactly, which exists
 *     only when δ·E is an integer: with δ·E = 21.875 (E = 25) the last pruning epoch's 1/keep
 *     weights stay on through the annealing epochs. Both are reproduced as the official code
 *     behaves (README, InfoBatch); the in-batch mode anneals from ⌈δ·E⌉ and never rescales then.
 *   - the weighted loss is mean(w·loss) over the batch (InfoBatch.update).
 *   Draws come from (seed, epoch) instead of NumPy's global seed (the reset count): the same
 *   distribution, not the same samples.
 *
 * 'in-batch' (InBatchInfoBatchSelector, this version's earlier behaviour), fitted to the in-batch
 * interface:
 *
 * At the start of each epoch, every sample whose last recorded loss is below the mean of the last
 * losses is pruned with probability r (the run's filter ratio); the surviving below-mean samples'
 * losses are scaled by 1/(1 − r), so the expected gradient is unchanged. Samples not seen yet are
 * never pruned. From epoch ⌈δ·E⌉ on (δ = 0.875) nothing is pruned (the annealing).
 *
 * Unlike InfoBatch's own sampler, which drops pruned samples from the epoch and refills full
 * batches, here the batches are the loader's and the pruned samples are removed from them: the
 * number of gradient samples is the same, but batches are smaller and there are as many optimizer
 * steps as without pruning. k therefore varies per batch (at least 1; an all-pruned batch keeps its
 * highest-loss sample).
 *
 * State (checkpointed): each sample's last loss, recorded from the training forward (no extra cost).
 */
import { deriveSeed, Rng } from '../../data/rng.js';
import type { SelectContext, Selector } from './types.js';

export class InBatchInfoBatchSelector implements Selector {
  readonly name = 'infobatch';
  readonly needs = {};
  readonly variableK = true;
  readonly ratio: number;
  readonly delta: number;
  /** Last training loss by sample id. */
  #last = new Map<string, number>();
  /** This epoch's pruned ids, and the well-learned survivors (their loss is rescaled). */
  #pruned = new Set<string>();
  #rescaled = new Set<string>();

  constructor(o: { ratio: number; delta?: number }) {
    this.ratio = o.ratio;
    this.delta = o.delta ?? 0.875;
    if (!(this.ratio >= 0 && this.ratio < 1)) throw new RangeError(`Expected a number in [0, 1) for ratio but received ${this.ratio}`);
  }

  beginEpoch(epoch: number, epochs: number, seed: number): { pruned: number; rescaled: number } {
    this.#pruned = new Set();
    this.#rescaled = new Set();
    if (epoch >= Math.ceil(this.delta * epochs) || this.#last.size === 0) return { pruned: 0, rescaled: 0 };
    let mean = 0;
    for (const v of this.#last.values()) mean += v;
    mean /= this.#last.size;
    const rng = new Rng(deriveSeed(seed, 'infobatch', epoch));
    for (const id of [...this.#last.keys()].sort()) {
      if (this.#last.get(id)! >= mean) continue;
      if (rng.next() < this.ratio) this.#pruned.add(id);
      else this.#rescaled.add(id);
    }
    return { pruned: this.#pruned.size, rescaled: this.#rescaled.size };
  }

  select(ctx: SelectContext): number[] {
    const kept: number[] = [];
    ctx.ids.forEach((id, i) => {
      if (!this.#pruned.has(id)) kept.push(i);
    });
    if (kept.length === 0) {
      let best = 0;
      ctx.ids.forEach((id, i) => {
        if ((this.#last.get(id) ?? Infinity) > (this.#last.get(ctx.ids[best]!) ?? Infinity)) best = i;
      });
      kept.push(best);
    }
    return kept;
  }

  /** Loss weights of the kept samples: 1/(1 − r) for the surviving well-learned ones, else 1. */
  weights(ids: readonly string[]): Float32Array {
    const w = 1 / (1 - this.ratio);
    return Float32Array.from(ids, (id) => (this.#rescaled.has(id) ? w : 1));
  }

  /** Records the trained samples' losses. */
  observe(ids: readonly string[], losses: ArrayLike<number>): void {
    ids.forEach((id, i) => this.#last.set(id, losses[i]!));
  }

  state(): unknown {
    return { last: [...this.#last.entries()] };
  }
  loadState(s: unknown): void {
    this.#last = new Map((s as { last: [string, number][] }).last);
  }
}

/** The official sampler's semantics (see the file comment). */
export class InfoBatchSelector implements Selector {
  readonly name = 'infobatch';
  readonly needs = {};
  /** Every visited sample is trained: k is the batch's size. */
  readonly variableK = true;
  readonly ratio: number;
  readonly delta: number;
  /** InfoBatch.keep_ratio = min(1, max(0.1, 1 − prune_ratio)). */
  readonly keep: number;
  /** Scores by id (absent: the initial 3). */
  #scores = new Map<string, number>();
  /** Ids whose loss weight is 1/keep (InfoBatch.weights ≠ 1); they persist until a reset (see the file comment). */
  #rescaled = new Set<string>();

  constructor(o: { ratio: number; delta?: number }) {
    this.ratio = o.ratio;
    this.delta = o.delta ?? 0.875;
    if (!(this.ratio >= 0 && this.ratio < 1)) throw new RangeError(`Expected a number in [0, 1) for ratio but received ${this.ratio}`);
    this.keep = Math.min(1, Math.max(0.1, 1 - this.ratio));
  }

  /** IBSampler.reset for epoch `epoch`: the pruned, shuffled index list, or every sample when annealing. */
  epochOrder(epoch: number, epochs: number, seed: number, ids: readonly string[]): { positions: number[]; report: Record<string, number> } {
    const rng = new Rng(deriveSeed(seed, 'infobatch', epoch));
    const count = epoch + 1;
    const stop = epochs * this.delta;
    if (count > stop) {
      // Exactly as IBSampler.reset: the weights are reset only when count == stop_prune + 1.
      if (count === stop + 1) this.#rescaled = new Set();
      return { positions: Array.from(rng.permutation(ids.length)), report: { pruned: 0, rescaled: this.#rescaled.size } };
    }
    const scores = ids.map((id) => this.#scores.get(id) ?? 3);
    const mean = scores.reduce((a, v) => a + v, 0) / Math.max(1, scores.length);
    const well: number[] = [];
    const remained: number[] = [];
    scores.forEach((v, i) => (v < mean ? well : remained).push(i));
    // np.random.choice(well, int(keep·|well|), replace=False): a uniform subset of exactly that size.
    const selected = rng.shuffle(well.slice()).slice(0, Math.trunc(this.keep * well.length));
    this.#rescaled = new Set(selected.map((i) => ids[i]!));
    const positions = rng.shuffle([...remained, ...selected]);
    return { positions, report: { pruned: ids.length - positions.length, rescaled: selected.length } };
  }

  select(ctx: SelectContext): number[] {
    return Array.from({ length: ctx.batchSize }, (_, i) => i);
  }

  /** InfoBatch.update: 1/keep for the kept well-learned samples, else 1. */
  weights(ids: readonly string[]): Float32Array {
    return Float32Array.from(ids, (id) => (this.#rescaled.has(id) ? 1 / this.keep : 1));
  }

  /** InfoBatch.update: scores[index] = the sample's (unweighted) training loss. */
  observe(ids: readonly string[], losses: ArrayLike<number>): void {
    ids.forEach((id, i) => this.#scores.set(id, losses[i]!));
  }

  state(): unknown {
    return { scores: [...this.#scores.entries()], rescaled: [...this.#rescaled] };
  }
  loadState(s: unknown): void {
    const v = s as { scores: [string, number][]; rescaled: string[] };
    this.#scores = new Map(v.scores);
    this.#rescaled = new Set(v.rescaled);
  }
}
