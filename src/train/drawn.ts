/**
 * Drawn batches, eager or deferred. A selector that needs no pixels (random, saln on cached
 * features, k-center, CRAIG on cached features) decides from ids and labels alone, so its batch
 * can be selected before it is augmented: the source defers the transform and only the kept
 * rows are augmented (the others would be thrown away). The kept rows' pixels are those the
 * eager batch would have had, so a run is the same either way but for time; the deferred
 * augmentation is timed as 'data', as the eager one is.
 */
import { selectRows, type Tensor } from '../tensor/index.js';
import { toInput, type Compute } from './compute.js';
import type { SelectorNeeds } from './selectors/index.js';
import type { BatchLike, DeferredBatchLike } from './source.js';
import type { DrawnBatch } from './step.js';

/** A drawn batch the loop owns: release() frees it. */
export interface OwnedBatch extends DrawnBatch {
  /** Present on deferred batches: the inputs of just these rows, on the device. */
  rows?(kept: readonly number[]): Tensor;
  release(): void;
}

/** Whether a selection with these needs can be made before the batch's inputs exist. */
export function selectsWithoutPixels(needs: Readonly<SelectorNeeds>, referenceScoresPrecomputed: boolean): boolean {
  return !needs.pixels && !needs.learnerFeatures && !needs.gradientEmbedding && !needs.learnerLoss && !(needs.referenceLoss && !referenceScoresPrecomputed);
}

/** An eager batch on the device. */
export function eagerBatch(raw: BatchLike, index: number, c: Compute): OwnedBatch {
  const b = { x: toInput(raw.x, c), y: toInput(raw.y, c), ids: raw.ids, index };
  return { ...b, release: () => (b.x.dispose(), b.y.dispose()) };
}

/** A deferred batch: x (every row) is computed on first use; rows(kept) computes only those. */
export function deferredBatch(raw: DeferredBatchLike, index: number, c: Compute): OwnedBatch {
  let x: Tensor | null = null;
  let y: Tensor | null = null;
  return {
    ids: raw.ids, index,
    get x(): Tensor {
      return (x ??= toInput(raw.inputs(), c));
    },
    get y(): Tensor {
      return (y ??= toInput(raw.y, c));
    },
    rows: (kept) => toInput(raw.inputs(kept), c),
    release: () => {
      x?.dispose();
      if (y !== null && y !== raw.y) y.dispose();
      raw.dispose();
    },
  };
}

/**
 * What the step trains on: for a deferred batch, its kept rows as a batch of their own (every row
 * kept; `owned`: the caller releases it), so only they are augmented; otherwise b itself.
 */
export function keptBatch(b: OwnedBatch, kept: readonly number[]): { batch: OwnedBatch; kept: readonly number[]; owned: boolean } {
  if (!b.rows || kept.length === 0) return { batch: b, kept, owned: false };
  if (kept.length === b.ids.length) {
    void b.x; // computed here, so that it is timed with the data
    return { batch: b, kept, owned: false };
  }
  const x = b.rows(kept);
  const y = selectRows(b.y, kept);
  const batch: OwnedBatch = { x, y, ids: kept.map((i) => b.ids[i]!), index: b.index, release: () => (x.dispose(), y.dispose()) };
  return { batch, kept: kept.map((_, j) => j), owned: true };
}
