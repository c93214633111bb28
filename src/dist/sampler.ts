/**
 * PyTorch's DistributedSampler, as a function of one epoch's order: every rank starts from the
 * same seeded order of the n samples, pads it by repeating it from the start until its length is
 * a multiple of the world size W (drop_last=False) or cuts it down to one (drop_last=True), and
 * takes every W-th sample starting at its rank.
 *
 * Rank r's i-th batch of b samples and the other ranks' i-th batches together hold positions
 * [i·W·b, (i+1)·W·b) of the padded order: one process's i-th batch of W·b samples.
 */
import { EngineError } from '../binding/errors.js';

export interface DistributedSamplerOptions {
  /** Drop the tail that does not divide evenly instead of padding (default false, as PyTorch). */
  dropLast?: boolean;
}

function checkRank(rank: number, worldSize: number): void {
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new EngineError(`distributedIndices: Expected an integer >= 1 for worldSize but received ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new EngineError(`distributedIndices: Expected an integer between 0 and ${worldSize - 1} for rank but received ${rank}`);
  }
}

/** Samples per rank per epoch: DistributedSampler.num_samples. */
export function distributedNumSamples(n: number, worldSize: number, o: DistributedSamplerOptions = {}): number {
  // max(0, ·): n < W gives ceil of a negative fraction, -0 in JS where Python's math.ceil gives 0.
  if (o.dropLast && n % worldSize !== 0) return Math.max(0, Math.ceil((n - worldSize) / worldSize));
  return Math.ceil(n / worldSize);
}

/**
 * The samples rank takes from an epoch's order (the same order on every rank): padded as
 * DistributedSampler pads, then order[rank], order[rank + W], ...
 */
export function distributedIndices(order: ArrayLike<number>, rank: number, worldSize: number, o: DistributedSamplerOptions = {}): Int32Array {
  checkRank(rank, worldSize);
  const n = order.length;
  const perRank = distributedNumSamples(n, worldSize, o);
  const out = new Int32Array(perRank);
  if (n === 0) return out;
  // Position j of the padded (or cut) order is order[j mod n]: padding repeats from the start.
  for (let i = 0; i < perRank; i++) out[i] = order[(rank + i * worldSize) % n]!;
  return out;
}
