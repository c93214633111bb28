/**
 * Sharded evaluation: each rank evaluates its own share of a set (every sample exactly once over
 * the ranks, no padding, so nothing is counted twice), then the ranks add up their sums and
 * counts, or gather their per-sample outputs.
 */
import { EngineError } from '../binding/errors.js';
import { cat, tensor, zeros } from '../tensor/index.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ProcessGroup } from './process-group.js';

/** Rank's share of n samples: positions rank, rank + W, ... (sizes differ by at most one). */
export function shardIndices(n: number, rank: number, worldSize: number): Int32Array {
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new EngineError(`shardIndices: Expected an integer >= 1 for worldSize but received ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new EngineError(`shardIndices: Expected an integer between 0 and ${worldSize - 1} for rank but received ${rank}`);
  const out = new Int32Array(Math.max(0, Math.ceil((n - rank) / worldSize)));
  for (let i = 0; i < out.length; i++) out[i] = rank + i * worldSize;
  return out;
}

/** Adds up numbers over the ranks (float64: counts stay exact up to 2^53). */
export async function reduceSums(group: ProcessGroup, values: readonly number[]): Promise<number[]> {
  if (values.length === 0) return [];
  const t = tensor(Float64Array.from(values));
  try {
    await group.allReduce(t, 'sum');
    return Array.from(t.toTypedArray<'float64'>());
  } finally {
    t.dispose();
  }
}

/** As reduceSums, for named values: { loss: sum of losses, correct: …, count: … }. */
export async function reduceRecord<K extends string>(group: ProcessGroup, rec: Readonly<Record<K, number>>): Promise<Record<K, number>> {
  const keys = Object.keys(rec).sort() as K[];
  const sums = await reduceSums(group, keys.map((k) => rec[k]));
  return Object.fromEntries(keys.map((k, i) => [k, sums[i]!])) as Record<K, number>;
}

/**
 * Every rank's t concatenated along dim 0, in rank order; the ranks' first dimensions may differ
 * (a short last batch, uneven shards). The other dimensions and the dtype must agree.
 */
export async function allGatherCat(group: ProcessGroup, t: Tensor): Promise<Tensor> {
  if (t.ndim === 0) throw new EngineError('allGatherCat: Expected a tensor with at least one dimension but received a scalar');
  const sizes = await reduceSizes(group, t.size(0));
  const max = Math.max(...sizes);
  const rest = t.shape.slice(1);
  // Collectives need equal shapes: pad to the longest, then cut each rank's part back.
  const padded = t.size(0) === max ? t : cat([t, zeros([max - t.size(0), ...rest], { dtype: t.dtype, device: t.device })]);
  const parts = await group.allGather(padded);
  if (padded !== t) padded.dispose();
  const trimmed = parts.map((p, r) => (sizes[r] === max ? p : p.narrow(0, 0, sizes[r]!)));
  const out = cat(trimmed.filter((p, r) => sizes[r]! > 0));
  for (const p of [...parts, ...trimmed]) p.dispose();
  return out;
}

/** Every rank's count, in rank order. */
async function reduceSizes(group: ProcessGroup, size: number): Promise<number[]> {
  const mine = new Array<number>(group.worldSize).fill(0);
  mine[group.rank] = size;
  return reduceSums(group, mine);
}
