/**
 * The selector interface: every in-batch selection method is one object that declares what it
 * needs and, given those inputs, returns the in-batch positions to train on. The trainer computes
 * only what a selector declares, and times it as "scoring"; select() itself is timed as
 * "selection". Neither is ever hidden in the training time.
 */
import type { Tensor } from '../../tensor/index.js';

export interface SelectorNeeds {
  /** Cached per-sample features (the feature cache, looked up by sample id): ctx.features. */
  features?: boolean;
  /** The batch's input pixels, flattened per sample: ctx.features. */
  pixels?: boolean;
  /** The learner's own penultimate features, computed without gradients: ctx.features. */
  learnerFeatures?: boolean;
  /** The learner's last-layer gradient embedding, (softmax − onehot) ⊗ [features, 1] (src/train/embedding.ts): ctx.features. */
  gradientEmbedding?: boolean;
  /** The learner's per-sample losses, from an extra forward without gradients: ctx.learnerLoss. */
  learnerLoss?: boolean;
  /** A reference model's per-sample losses: ctx.referenceLoss. */
  referenceLoss?: boolean;
}

/** Everything a selector may look at for one batch. Tensors belong to the trainer. */
export interface SelectContext {
  /** The batch size B and how many to keep, k = floor(B·(1 − filterRatio)) (see keptCount). */
  batchSize: number;
  k: number;
  /** Stable sample ids, in batch order. */
  ids: readonly string[];
  /** Class indices, in batch order. */
  labels: Int32Array;
  /** The run's seed, epoch and the batch's index within the epoch (for seeded selectors). */
  seed: number;
  epoch: number;
  batchIndex: number;
  /** [B, D] features, present when the selector needs features, pixels, learnerFeatures or gradientEmbedding. */
  features?: Tensor;
  /** [B] per-sample losses, when declared. */
  learnerLoss?: Float32Array;
  referenceLoss?: Float32Array;
}

export interface Selector {
  readonly name: string;
  readonly needs: Readonly<SelectorNeeds>;
  /** The kept in-batch positions (k distinct integers in [0, B)). */
  select(ctx: SelectContext): number[];
  /** The selector decides k per batch itself (epoch-level methods); select() returns at least 1. */
  readonly variableK?: boolean;
  /** Called at the start of every epoch, before its first batch. */
  beginEpoch?(epoch: number, epochs: number, seed: number): Record<string, number> | void;
  /**
   * Epoch-level samplers (InfoBatch's official mode) shape the epoch itself: given every id of the
   * train source by position, the positions this epoch visits, in order (the loader batches them
   * in full batches), and what to report in the epoch's metrics. Called at the start of every
   * epoch instead of beginEpoch; it must depend only on (seed, epoch) and the checkpointed state,
   * so a resumed run visits the same samples.
   */
  epochOrder?(epoch: number, epochs: number, seed: number, ids: readonly string[]): { positions: number[]; report: Record<string, number> };
  /** Per-sample loss weights for the kept samples, by id (default: all 1). */
  weights?(ids: readonly string[]): Float32Array;
  /** The kept samples' training losses, after each step. */
  observe?(ids: readonly string[], losses: ArrayLike<number>): void;
  /** JSON state to checkpoint (selectors without state omit these). */
  state?(): unknown;
  loadState?(s: unknown): void;
}
