/**
 * `infobatch`: an epoch-level baseline (Qin et al. 2024), fitted to the in-batch interface.
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

export class InfoBatchSelector implements Selector {
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
