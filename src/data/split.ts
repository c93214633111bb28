/** Seeded stratified splits: the same seed and labels always give the same split. */
import { deriveSeed, Rng } from './rng.js';

export interface SplitResult {
  /** Positions that stay (ascending). */
  keep: number[];
  /** Positions carved out (ascending). */
  take: number[];
}

/**
 * Carves round(fraction · n_c) samples out of every class c, chosen at random with a seed. Every
 * class with at least 2 samples keeps at least one and, when fraction > 0, gives at least one.
 * The result depends only on (labels, fraction, seed), not on anything else drawn before.
 */
export function stratifiedSplit(labels: ArrayLike<number>, fraction: number, seed: number): SplitResult {
  if (!(fraction >= 0 && fraction < 1)) {
    throw new RangeError(`Expected a number in [0, 1) for the split fraction but received ${fraction}`);
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    let list = byClass.get(l);
    if (list === undefined) byClass.set(l, (list = []));
    list.push(i);
  }
  const takeMask = new Uint8Array(labels.length);
  for (const [label, idx] of [...byClass.entries()].sort((a, b) => a[0] - b[0])) {
    let k = Math.round(idx.length * fraction);
    if (fraction > 0 && idx.length >= 2) k = Math.min(Math.max(k, 1), idx.length - 1);
    if (k === 0) continue;
    const rng = new Rng(deriveSeed(seed, 'stratified', label));
    const order = rng.shuffle(idx.slice());
    for (let j = 0; j < k; j++) takeMask[order[j]!] = 1;
  }
  const keep: number[] = [];
  const take: number[] = [];
  for (let i = 0; i < labels.length; i++) (takeMask[i] ? take : keep).push(i);
  return { keep, take };
}
