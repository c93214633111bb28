/**
 * DataLoader: seeded, deterministic batches of engine tensors with each sample's stable id.
 *
 *   const loader = new DataLoader(train, { batchSize: 128, seed: 0, transform: new TrainTransform({ inputSize: 32 }) });
 *   for await (const { x, y, ids } of loader.epoch(0)) { ...; x.dispose(); y.dispose(); }
 *
 * Determinism: epoch e's order is a Fisher–Yates shuffle seeded by (seed, e), and batch i's
 * augmentation draws from an Rng seeded by (seed, e, i), so a batch's content depends only on
 * (seed, epoch, batch index), not on timing or on anything else that drew random numbers.
 *
 * What overlaps. Before yielding batch i, the loader starts fetching batch i + 1's rows: for a
 * disk-backed set those are positional file reads on libuv's thread pool, which proceed while the
 * caller trains on batch i. The augmentation of batch i + 1 (engine ops, themselves
 * multi-threaded by libtorch) runs on the main thread when the caller asks for the next batch,
 * so it does not overlap the training step. For an in-memory set the fetch is one indexSelect.
 */
import { selectRows, tensor, type MemoryFormat, type Tensor } from '../tensor/index.js';
import type { PreparedSet } from './prepared.js';
import { deriveSeed, Rng } from './rng.js';
import { transformRows, type BatchTransform } from './transforms.js';

export interface Batch {
  /** Model inputs: float32 [B, 3, H, W] (or uint8 [B, H, W, 3] without a transform). */
  x: Tensor;
  /** Class indices, int64 [B]. */
  y: Tensor;
  /** Stable sample ids, in batch order. */
  ids: string[];
  /** Positions of the samples in the loader's set. */
  positions: Int32Array;
  /** The epoch and the batch's index within it. */
  epoch: number;
  index: number;
}

/**
 * A batch whose transform has not run yet (DataLoader.deferredEpoch): its cache images and the
 * model inputs on demand.
 */
export interface DeferredBatch extends Omit<Batch, 'x'> {
  /** The cache images, uint8 [B, H, W, 3]; owned by the batch. */
  raw: Tensor;
  /** The model inputs of these rows, in this order (every row when omitted): a new tensor each call. */
  inputs(rows?: ArrayLike<number>): Tensor;
  /** Frees raw and y. */
  dispose(): void;
}

/** Frees a batch's tensors. */
export function disposeBatch(b: Batch): void {
  b.x.dispose();
  b.y.dispose();
}

export interface LoaderOptions {
  batchSize: number;
  /** Shuffle every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the order and the augmentations (default 0). */
  seed?: number;
  /** Drop the last, incomplete batch (default false). */
  dropLast?: boolean;
  /** Turns the uint8 cache images into model inputs; omitted, x is the uint8 [B, H, W, 3] batch. */
  transform?: BatchTransform;
  /** Fetch the next batch's rows while the current batch is in use (default true). */
  prefetch?: boolean;
  /**
   * Which positions of each epoch's order this loader yields (PyTorch's DataLoader(sampler=…)):
   * data-parallel ranks each take their share (src/dist's distributedIndices).
   */
  sampler?: LoaderSampler;
  /**
   * The layout of image batches x [B, C, H, W] (default 'contiguous', NCHW): 'channels-last'
   * hands bf16 conv nets their input already in oneDNN's layout, so the model never reorders it.
   */
  memoryFormat?: MemoryFormat;
}

/** Picks a loader's positions from an epoch's order. */
export interface LoaderSampler {
  /** Positions per epoch. */
  readonly length: number;
  /** Mixed into the augmentation seed, so ranks sharing a seed do not augment in lockstep. */
  readonly key: string;
  indices(order: Int32Array): Int32Array;
}

export class DataLoader implements AsyncIterable<Batch> {
  readonly set: PreparedSet;
  readonly o: Required<Omit<LoaderOptions, 'transform' | 'sampler'>> & { transform: BatchTransform | undefined; sampler: LoaderSampler | undefined };
  #nextEpoch = 0;

  constructor(set: PreparedSet, o: LoaderOptions) {
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new RangeError(`Expected an integer >= 1 for batchSize but received ${o.batchSize}`);
    this.set = set;
    this.o = { batchSize: o.batchSize, shuffle: o.shuffle ?? true, seed: o.seed ?? 0, dropLast: o.dropLast ?? false, transform: o.transform, prefetch: o.prefetch ?? true, sampler: o.sampler, memoryFormat: o.memoryFormat ?? 'contiguous' };
  }

  /** Batches per epoch. */
  get length(): number {
    const n = (this.o.sampler?.length ?? this.set.length) / this.o.batchSize;
    return this.o.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The order of positions in epoch e. */
  order(epoch: number): Int32Array {
    const n = this.set.length;
    if (!this.o.shuffle) return Int32Array.from({ length: n }, (_, i) => i);
    return new Rng(deriveSeed(this.o.seed, 'shuffle', epoch)).permutation(n);
  }

  /** The next epoch each time (0, 1, 2, …). */
  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.epoch(this.#nextEpoch++);
  }

  /**
   * The batches of epoch e. Stopping early (break) is fine: the pending fetch is released.
   * `visit` replaces the epoch's shuffle with these positions, in this order (an epoch-level
   * sampler such as InfoBatch's, which visits a pruned subset): its batches are full but the
   * last, and augmentation still draws from (seed, e, batch). A sampler (a data-parallel rank's
   * share) then picks its positions from that order.
   */
  async *epoch(e: number, visit: Int32Array = this.order(e)): AsyncGenerator<Batch, void, undefined> {
    for await (const d of this.deferredEpoch(e, visit)) {
      if (!this.o.transform) {
        yield { x: laidOut(d.raw, this.o.memoryFormat), y: d.y, ids: d.ids, positions: d.positions, epoch: d.epoch, index: d.index };
        continue;
      }
      let x: Tensor;
      try {
        x = d.inputs();
      } catch (err) {
        d.dispose();
        throw err;
      }
      d.raw.dispose();
      yield { x, y: d.y, ids: d.ids, positions: d.positions, epoch: d.epoch, index: d.index };
    }
  }

  /**
   * The same batches as epoch(e, visit), with the transform deferred: each batch holds its cache
   * images (raw) and computes model inputs on demand, for every row or only for some. A trainer
   * whose selector needs no pixels uses it to augment only the samples it keeps; the rows it
   * computes equal those of epoch()'s batch, since the random choices are drawn for the whole
   * batch either way. The caller disposes each batch (dispose()).
   */
  async *deferredEpoch(e: number, visit: Int32Array = this.order(e)): AsyncGenerator<DeferredBatch, void, undefined> {
    const order = this.o.sampler ? this.o.sampler.indices(visit) : visit;
    const augmentKey = this.o.sampler ? [this.o.sampler.key] : [];
    const bs = this.o.batchSize;
    const nb = this.o.dropLast ? Math.floor(order.length / bs) : Math.ceil(order.length / bs);
    const slice = (i: number): Int32Array => order.subarray(i * bs, Math.min((i + 1) * bs, order.length));
    let pending: Promise<Tensor> | null = null;
    try {
      for (let i = 0; i < nb; i++) {
        pending ??= this.set.readBatch(slice(i));
        const raw = await pending;
        pending = null;
        // Start the next fetch now, so its file reads run while the caller works on this batch.
        if (this.o.prefetch && i + 1 < nb) pending = this.set.readBatch(slice(i + 1));
        const positions = Int32Array.from(slice(i));
        const rng = (): Rng => new Rng(deriveSeed(this.o.seed, 'augment', e, i, ...augmentKey));
        const y = tensor(BigInt64Array.from(positions, (p) => BigInt(this.set.labels[p]!)), { device: raw.device });
        const ids = Array.from(positions, (p) => this.set.ids[p]!);
        yield {
          raw, y, ids, positions, epoch: e, index: i,
          inputs: (rows) => laidOut(this.#inputs(raw, rng, rows), this.o.memoryFormat),
          dispose: () => {
            raw.dispose();
            y.dispose();
          },
        };
      }
    } finally {
      if (pending !== null) pending.then((t) => t.dispose(), () => {});
    }
  }

  /** The model inputs of a batch's rows (all when omitted): a new tensor, raw untouched. */
  #inputs(raw: Tensor, rng: () => Rng, rows?: ArrayLike<number>): Tensor {
    const t = this.o.transform;
    if (rows === undefined) return t ? t.apply(raw, rng()) : raw.clone();
    if (t) return transformRows(t, raw, rng(), rows);
    return selectRows(raw, rows);
  }
}

/** x in memoryFormat when it is an image batch (4-D); x is disposed when a copy replaces it. */
function laidOut(x: Tensor, memoryFormat: MemoryFormat): Tensor {
  if (memoryFormat === 'contiguous' || x.ndim !== 4 || x.isContiguous(memoryFormat)) return x;
  const laid = x.contiguous(memoryFormat);
  x.dispose();
  return laid;
}
