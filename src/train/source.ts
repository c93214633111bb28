/** What the trainer reads batches from: the data module's DataLoader, or tensors in memory (tests). */
import { DataLoader } from '../data/loader.js';
import { deriveSeed, Rng } from '../data/rng.js';
import { tensor, type Tensor } from '../tensor/index.js';

export interface BatchLike {
  /** Model inputs [B, C, H, W] float32; the trainer disposes x and y. */
  x: Tensor;
  y: Tensor;
  ids: string[];
}

/**
 * A batch whose model inputs are computed on demand (a deferred transform): all of them, or only
 * the rows a selector kept, which then are the only ones augmented.
 */
export interface DeferredBatchLike {
  y: Tensor;
  ids: string[];
  /** The inputs of these rows, in this order (every row when omitted): a new tensor. */
  inputs(rows?: readonly number[]): Tensor;
  /** Frees the batch (y included). */
  dispose(): void;
}

/**
 * A deterministic source of batches: epoch e's batches depend only on its seed and e (and the
 * order given, when one is).
 */
export interface BatchSource {
  readonly samples: number;
  readonly batches: number;
  /** Samples per batch (the last may be smaller); super-batch mode checks it. */
  readonly batchSize?: number;
  /** Every sample's id, by position: what an epoch-level sampler chooses from (sources that allow an order). */
  readonly ids?: readonly string[];
  /**
   * Epoch e's batches: the source's own shuffle, or `order.positions` in that order (an
   * epoch-level sampler's pruned, shuffled index list: InfoBatch's official mode), in full
   * batches but the last. Only sources with `ids` take an order.
   */
  epoch(e: number, order?: EpochOrder): AsyncIterable<BatchLike>;
  /** epoch(e, order) with the inputs deferred, where the source can defer them (the same samples and pixels). */
  deferredEpoch?(e: number, order?: EpochOrder): AsyncIterable<DeferredBatchLike>;
  /**
   * The same data in batches of n (same seed and transforms). Super-batch mode uses it when the
   * drawn size changes with a filter-ratio schedule.
   */
  withBatchSize?(n: number): BatchSource;
}

/** An epoch's own index list: positions into the source, in visiting order. */
export interface EpochOrder {
  positions: readonly number[];
}

export function loaderSource(loader: DataLoader): BatchSource {
  return {
    samples: loader.o.sampler?.length ?? loader.set.length, batches: loader.length, batchSize: loader.o.batchSize, ids: loader.set.ids,
    epoch: (e, order) => loader.epoch(e, order ? Int32Array.from(order.positions) : undefined),
    deferredEpoch: (e, order) => loader.deferredEpoch(e, order ? Int32Array.from(order.positions) : undefined),
    withBatchSize: (n) => loaderSource(new DataLoader(loader.set, { ...loader.o, batchSize: n })),
  };
}

/** Batches of in-memory tensors x [N, ...], labels [N], with a seeded shuffle per epoch. */
export function tensorSource(x: Tensor, labels: ArrayLike<number>, ids: readonly string[], o: { batchSize: number; seed?: number; shuffle?: boolean }): BatchSource {
  const n = x.shape[0]!;
  const batches = Math.ceil(n / o.batchSize);
  return {
    samples: n,
    batches,
    batchSize: o.batchSize,
    ids,
    withBatchSize: (bs) => tensorSource(x, labels, ids, { ...o, batchSize: bs }),
    async *epoch(e: number, given?: EpochOrder) {
      const order = given ? Int32Array.from(given.positions) : o.shuffle === false ? Int32Array.from({ length: n }, (_, i) => i) : new Rng(deriveSeed(o.seed ?? 0, 'shuffle', e)).permutation(n);
      const nb = Math.ceil(order.length / o.batchSize);
      for (let b = 0; b < nb; b++) {
        const pos = Array.from(order.subarray(b * o.batchSize, Math.min(order.length, (b + 1) * o.batchSize)));
        const idx = tensor(pos, { dtype: 'int64' });
        const xb = x.indexSelect(0, idx);
        idx.dispose();
        const y = tensor(BigInt64Array.from(pos, (p) => BigInt(labels[p]!)));
        yield { x: xb, y, ids: pos.map((p) => ids[p]!) };
      }
    },
  };
}

/** Data for one run. val may be null (no validation split). */
export interface TrainData {
  train: BatchSource;
  val: BatchSource | null;
  test: BatchSource;
  numClasses: number;
  /**
   * The training set un-augmented, in any fixed order: what the reference scores once with
   * precomputed reference scores (jest, rho-loss).
   */
  trainScoring?: BatchSource;
  /** Cached features by sample id, [ids.length, D] (a new tensor), for saln's 'cache' source. */
  featureLookup?: (ids: readonly string[]) => Tensor;
}
