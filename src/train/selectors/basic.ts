/** The baselines: `none` (standard training), `random` (uniform, seeded) and `loss-topk`. */
import { deriveSeed, Rng } from '../../data/rng.js';
import type { SelectContext, Selector } from './types.js';

/** Standard training: keeps every sample (the trainer keeps k = B when the filter ratio is 0). */
export class NoneSelector implements Selector {
  readonly name = 'none';
  readonly needs = {};
  select(ctx: SelectContext): number[] {
    return Array.from({ length: ctx.batchSize }, (_, i) => i);
  }
}

/**
 * Uniform random selection at the same keep ratio: the control. It draws from its own generator
 * seeded by (seed, epoch, batch index), so it needs no state and a resumed run draws the same, and
 * it costs a partial Fisher–Yates shuffle of B integers: nothing per kept sample beyond `none`.
 * The kept positions are returned in ascending order.
 */
export class RandomSelector implements Selector {
  readonly name = 'random';
  readonly needs = {};
  select(ctx: SelectContext): number[] {
    const rng = new Rng(deriveSeed(ctx.seed, 'select-random', ctx.epoch, ctx.batchIndex));
    const p = Array.from({ length: ctx.batchSize }, (_, i) => i);
    for (let i = 0; i < ctx.k; i++) {
      const j = i + rng.int(ctx.batchSize - i);
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p.slice(0, ctx.k).sort((a, b) => a - b);
  }
}

/**
 * Online batch selection by loss: the k samples with the highest learner loss, from an extra
 * forward pass without gradients (in eval mode, so scoring does not touch BatchNorm's running
 * statistics). Ties: lower position first.
 */
export class LossTopKSelector implements Selector {
  readonly name = 'loss-topk';
  readonly needs = { learnerLoss: true };
  select(ctx: SelectContext): number[] {
    const loss = ctx.learnerLoss;
    if (!loss || loss.length !== ctx.batchSize) throw new Error(`loss-topk: expected ${ctx.batchSize} learner losses, got ${loss?.length}`);
    return topKPositions(loss, ctx.k);
  }
}

/** Positions of the k largest scores, by descending score (ties: lower position first); NaN ranks last. */
export function topKPositions(scores: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  const v = (i: number): number => (Number.isNaN(scores[i]!) ? -Infinity : scores[i]!);
  idx.sort((a, b) => v(b) - v(a) || a - b);
  return idx.slice(0, k);
}

/**
 * Class-balanced random selection at the same k: a stronger control than `random`. Each class
 * present in the batch gets ⌊k/C⌋ slots (C classes present; all of a class when it has fewer),
 * drawn uniformly within the class; the slots left are filled uniformly from the samples not yet
 * kept. Seeded by (seed, epoch, batch index) like `random`; kept positions in ascending order.
 */
export class RandomBalancedSelector implements Selector {
  readonly name = 'random-balanced';
  readonly needs = {};
  select(ctx: SelectContext): number[] {
    const rng = new Rng(deriveSeed(ctx.seed, 'select-random-balanced', ctx.epoch, ctx.batchIndex));
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < ctx.batchSize; i++) {
      const c = ctx.labels[i]!;
      const members = byClass.get(c);
      if (members) members.push(i);
      else byClass.set(c, [i]);
    }
    const quota = Math.floor(ctx.k / byClass.size);
    const kept: number[] = [];
    const rest: number[] = [];
    for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
      const members = shuffle(byClass.get(c)!, rng);
      kept.push(...members.slice(0, quota));
      rest.push(...members.slice(quota));
    }
    kept.push(...shuffle(rest, rng).slice(0, ctx.k - kept.length));
    return kept.sort((a, b) => a - b);
  }
}

/** Fisher–Yates, in place; returns xs. */
function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = xs[i]!;
    xs[i] = xs[j]!;
    xs[j] = t;
  }
  return xs;
}
