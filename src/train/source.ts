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

/** A deterministic source of batches: epoch e's batches depend only on its seed and e. */
export interface BatchSource {
  readonly samples: number;
  readonly batches: number;
  /** Samples per batch (the last may be smaller); super-batch mode checks it. */
  readonly batchSize?: number;
  epoch(e: number): AsyncIterable<BatchLike>;
  /**
   * The same data in batches of n (same seed and transforms). Super-batch mode uses it when the
   * drawn size changes with a filter-ratio schedule.
   */
  withBatchSize?(n: number): BatchSource;
}

export function loaderSource(loader: DataLoader): BatchSource {
  return {
    samples: loader.o.sampler?.length ?? loader.set.length, batches: loader.length, batchSize: loader.o.batchSize, epoch: (e) => loader.epoch(e),
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
    withBatchSize: (bs) => tensorSource(x, labels, ids, { ...o, batchSize: bs }),
    async *epoch(e: number) {
      const order = o.shuffle === false ? Int32Array.from({ length: n }, (_, i) => i) : new Rng(deriveSeed(o.seed ?? 0, 'shuffle', e)).permutation(n);
      for (let b = 0; b < batches; b++) {
        const pos = Array.from(order.subarray(b * o.batchSize, Math.min(n, (b + 1) * o.batchSize)));
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
  /** Cached features by sample id, [ids.length, D] (a new tensor), for saln's 'cache' source. */
  featureLookup?: (ids: readonly string[]) => Tensor;
}
