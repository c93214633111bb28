/**
 * The fit loop's observers (Lightning's callbacks): the run directory writer, the progress bar
 * and the JSON log are callbacks, so the loop itself does no I/O and a new output never changes
 * it. Every hook is optional; hooks run in the order the callbacks were given.
 */
import type { SGD } from '../optim/sgd.js';
import type { CheckpointState } from './checkpoint.js';
import type { SelectionExample } from './examples.js';
import type { Learner } from './models.js';
import type { EpochMetrics, Summary, TrainConfig } from './records.js';

export interface TrainStartInfo {
  config: TrainConfig;
  resumedFromEpoch: number;
  trainSamples: number;
  batchesPerEpoch: number;
}

export interface EpochStartInfo {
  /** 0-based. */
  epoch: number;
  epochs: number;
  /** Samples the epoch's source delivers. */
  samples: number;
}

export interface BatchEndInfo {
  /** This epoch's samples drawn and trained so far, and their summed train loss. */
  seen: number;
  trained: number;
  lossSum: number;
}

export interface BatchKeptInfo {
  /** 0-based, as selections.jsonl counts. */
  epoch: number;
  batch: number;
  kept: string[];
}

/** What a checkpoint holds: the loop's state, whole, and the model and optimizer it belongs to. */
export interface CheckpointInfo {
  /** 0-based epoch just finished. */
  epoch: number;
  state: CheckpointState;
  model: Learner;
  optimizer: SGD;
}

export interface FitCallback {
  onTrainStart?(info: TrainStartInfo): void;
  onEpochStart?(info: EpochStartInfo): void;
  onBatchEnd?(info: BatchEndInfo): void;
  /** The ids a batch trained on. */
  onBatchKept?(info: BatchKeptInfo): void;
  /**
   * A batch's features and kept positions (the first batch of each epoch, for selectors that see
   * features). The callback owns example.features and must dispose it. Only offered when some
   * callback has this hook.
   */
  onSelectionExample?(example: SelectionExample): void;
  /** The epoch's batches are done; its validation comes next. */
  onValidationStart?(info: { epoch: number }): void;
  onEpochEnd?(metrics: EpochMetrics): void;
  /**
   * Persist the state (timed as the 'checkpoint' phase). Returns where it was written, if anywhere;
   * onCheckpointSaved then reports that path.
   */
  onCheckpoint?(info: CheckpointInfo): string | void;
  onCheckpointSaved?(info: { epoch: number; path: string }): void;
  onTrainEnd?(summary: Summary): void;
}

/** Calls `hook` on every callback that has it, in order. */
export function notify<K extends keyof FitCallback>(callbacks: readonly FitCallback[], hook: K, ...args: Parameters<NonNullable<FitCallback[K]>>): void {
  for (const c of callbacks) (c[hook] as ((...a: unknown[]) => unknown) | undefined)?.apply(c, args);
}

/** The line-per-event log of a run (the CLI's --json), as one event type. */
export type TrainEvent =
  | { event: 'start'; config: TrainConfig; resumed_from_epoch: number; train_samples: number; batches_per_epoch: number }
  | ({ event: 'epoch' } & EpochMetrics)
  | { event: 'checkpoint'; epoch: number; path: string }
  | ({ event: 'end' } & Summary);

/** A callback that turns the hooks into TrainEvents. */
export function eventCallback(onEvent: (e: TrainEvent) => void): FitCallback {
  return {
    onTrainStart: (i) => onEvent({ event: 'start', config: i.config, resumed_from_epoch: i.resumedFromEpoch, train_samples: i.trainSamples, batches_per_epoch: i.batchesPerEpoch }),
    onEpochEnd: (m) => onEvent({ event: 'epoch', ...m }),
    onCheckpointSaved: (i) => onEvent({ event: 'checkpoint', epoch: i.epoch, path: i.path }),
    onTrainEnd: (s) => onEvent({ event: 'end', ...s }),
  };
}
