/**
 * What a run records, in memory and on disk: its configuration (config.json), one metrics row per
 * epoch (metrics.jsonl), and its summary (summary.json). The interfaces are the types the code
 * uses; the zod schemas beside them validate what is read back (run-dir.ts), and a compile-time
 * check keeps the two in step.
 *
 * Versions: RUN_DIR_VERSION is written into config.json as `format_version`. Version 1 (no field)
 * is every run written before it; its metrics may lack `cumulative`, which the reader derives.
 */
import { z } from 'zod';
import type { StoppedBy } from './budget.js';
import type { ValPoint } from './eval-every.js';
import type { LrScaling, SelectionMode, TrainDevice } from './modes.js';
import type { FilterSchedule } from './schedule.js';
import type { LrScheduleKind } from '../optim/lr-schedule.js';
import type { FeatureSource } from './selectors/saln.js';
import type { Method } from './selectors/index.js';
import type { MemoryFormat, Precision } from '../tensor/index.js';

export const RUN_DIR_VERSION = 2;

/** The serializable run configuration (what config.json holds). */
export interface TrainConfig {
  model: string;
  method: Method;
  filterRatio: number;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  seed: number;
  /** saln: 'cache' (pretrained features by id), 'pixels' or 'learner'. */
  featureSource: FeatureSource;
  solver: 'auto' | 'eigh' | 'lanczos';
  /** How the filter ratio moves over epochs, from filterRatio to schedule.end (default constant). */
  schedule?: FilterSchedule;
  /** jest: the number of chunks k is drawn in (default 16). */
  jestChunks?: number;
  /** jest / rho-loss: where the reference model came from (recorded, for people). */
  reference?: string;
  /** Write selections.jsonl (the ids each batch kept). */
  saveSelections: boolean;
  /** 'in-batch' (default: train k of B) or 'super-batch' (draw ⌈B/(1 − f)⌉, train B). See modes.ts. */
  selectionMode?: SelectionMode;
  /** 'none' (default, the paper's constant learning rate) or 'linear' (lr·k/B for a batch of k < B). */
  lrScaling?: LrScaling;
  /** Stop at a budget instead of at `epochs` (then the maximum). See budget.ts. */
  budget?: { seconds?: number; gradientSamples?: number };
  /** Where the learner trains (default 'cpu'). */
  device?: TrainDevice;
  /** The forward passes' precision, resolved ('auto' is never stored; absent: fp32). See compute.ts. */
  precision?: Precision;
  /** The layout of conv weights and image inputs, resolved (absent: contiguous). */
  memoryFormat?: MemoryFormat;
  /**
   * Also validate each time the run's gradient samples reach a multiple of this (eval-every.ts);
   * needs a validation split. A multiple reached at an epoch's last step is that epoch's own validation.
   */
  evalEvery?: number;
  /**
   * The learning-rate schedule over optimizer steps (lr-plan.ts; absent: constant, the paper's).
   * step: lr·gamma after each milestone epoch (default: half the epochs, gamma 0.1).
   */
  lrSchedule?: { kind: LrScheduleKind; warmupEpochs?: number; milestones?: number[]; gamma?: number };
  /**
   * How the learner is scored (loss-topk, rho-loss, jest, saln 'learner'): 'train' (RHO-LOSS's
   * official selection_train_mode: BatchNorm normalizes with the batch's statistics and updates its
   * running statistics, without gradients) or 'eval' (absent: eval, what runs before it did).
   */
  scoreMode?: ScoreMode;
  /**
   * jest / rho-loss: 'precomputed' (the reference scores every training sample once, un-augmented,
   * before training; looked up by id) or 'online' (absent: online, the reference scores each batch).
   */
  referenceScores?: ReferenceScoresMode;
  /** infobatch: 'official' (prune the epoch's index list; full batches, fewer steps) or 'in-batch' (absent: in-batch). */
  infobatchMode?: InfoBatchMode;
  /** craig: weight each kept sample by the batch samples it stands for (absent: true, CRAIG's published form). */
  craigWeights?: boolean;
  /** Anything else the caller wants recorded (dataset, paths, limits, the run spec). */
  extra?: Record<string, unknown>;
}

export const SCORE_MODES = ['train', 'eval'] as const;
export type ScoreMode = (typeof SCORE_MODES)[number];
export const REFERENCE_SCORES = ['precomputed', 'online'] as const;
export type ReferenceScoresMode = (typeof REFERENCE_SCORES)[number];
export const INFOBATCH_MODES = ['official', 'in-batch'] as const;
export type InfoBatchMode = (typeof INFOBATCH_MODES)[number];

/**
 * Seconds of work a run did before its training clock started: its reference's training
 * (extra.reference_wall_seconds) and its features' extraction (extra.feature_extraction_seconds).
 */
export function upfrontSeconds(c: Pick<TrainConfig, 'extra'>): number {
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
  return num(c.extra?.reference_wall_seconds) + num(c.extra?.feature_extraction_seconds);
}

/** config.json's extra field naming the machine a run trained on (machine-cpu.ts machineName; absent in runs before it). */
export const MACHINE_FIELD = 'machine';

/** The machine a run trained on, or null for a run recorded before runs named it. */
export function machineOf(c: Pick<TrainConfig, 'extra'>): string | null {
  const m = c.extra?.[MACHINE_FIELD];
  return typeof m === 'string' ? m : null;
}

export const PHASES = ['data', 'scoring', 'selection', 'train', 'eval', 'checkpoint'] as const;
export type Phase = (typeof PHASES)[number];
export type PhaseSeconds = Record<Phase, number>;

export const zeroPhases = (): PhaseSeconds => ({ data: 0, scoring: 0, selection: 0, train: 0, eval: 0, checkpoint: 0 });

export interface Counts {
  /** Samples that went forward/backward with gradients. */
  gradient_samples: number;
  /** Samples that went through a scoring forward (loss-topk, saln 'learner'). */
  scored_samples: number;
  /** Samples that went through the reference model (jest, rho-loss). */
  reference_samples: number;
  /** Samples whose features were looked up or computed for selection. */
  feature_samples: number;
  /** Samples the loader delivered. */
  seen_samples: number;
  optimizer_steps: number;
}

export const zeroCounts = (): Counts => ({ gradient_samples: 0, scored_samples: 0, reference_samples: 0, feature_samples: 0, seen_samples: 0, optimizer_steps: 0 });

/** The run's totals at the end of an epoch (after its validation). */
export interface Cumulative {
  wall_seconds: number;
  gradient_samples: number;
  scored_samples: number;
  feature_samples: number;
  reference_samples: number;
  seen_samples: number;
  optimizer_steps: number;
}

export interface EpochMetrics {
  epoch: number;
  /** The filter ratio of this epoch (after the schedule). */
  filter_ratio: number;
  train_loss: number;
  train_accuracy: number;
  val_loss: number | null;
  val_accuracy: number | null;
  trained_samples: number;
  seen_samples: number;
  steps: number;
  seconds: PhaseSeconds;
  wall_seconds: number;
  /** What the selector reported at the epoch's start (infobatch: pruned and rescaled counts). */
  selector?: Record<string, number>;
  /** Samples each batch drew (B in-batch, ⌈B/(1 − f)⌉ super-batch). */
  drawn_batch_size: number;
  cumulative: Cumulative;
  /** Present (true) when a budget stopped the run inside this epoch. */
  partial?: true;
  /** With evalEvery: the validations inside this epoch, in step order (the epoch-end one is val_*). */
  val_points?: ValPoint[];
  /** The learning rate of the epoch's last step (after any schedule and lr scaling). */
  lr?: number;
  /** The machine's 1-minute load average at the epoch's end (its cores: summary.load_average.cores). */
  load_average?: number;
  /** Cores' worth of CPU that other work took during the epoch (machine-cpu.ts; absent where unknown). */
  other_cpu?: number;
}

export interface Summary {
  method: string;
  model: string;
  filter_ratio: number;
  epochs: number;
  test_accuracy: number;
  test_loss: number;
  best_val_accuracy: number | null;
  final_val_accuracy: number | null;
  wall_seconds: number;
  phases: PhaseSeconds;
  counts: Counts;
  /** The epoch a resume started from (0: never resumed). */
  resumed_from_epoch: number;
  /** Epochs trained (the last one partial when a budget stopped the run). */
  epochs_done: number;
  stopped_by: StoppedBy;
  selection_mode: SelectionMode;
  /** B, the trained batch size. */
  batch_size: number;
  lr_scaling: LrScaling;
  device: TrainDevice;
  precision: Precision;
  memory_format: MemoryFormat;
  /** With stopped_by 'non-finite loss': the 1-based epoch and step whose train loss was NaN or infinite. */
  diverged_at?: { epoch: number; step: number };
  /**
   * jest / rho-loss with precomputed reference scores: the seconds the reference took to score
   * the training set once (in phases.scoring and wall_seconds; its samples in counts.reference_samples).
   */
  reference_scoring_seconds?: number;
  /**
   * The machine's 1-minute load average when this process started training and at its test, and
   * the mean of those and every epoch's (EpochMetrics.load_average): wall times of runs that shared
   * the cores (load well above their count) are not comparable.
   */
  load_average?: { start: number; end: number; cores: number; mean?: number; other_cpu?: number };
  /** Data-parallel runs: the processes (counts and metrics are the whole job's) and where selection ran. */
  world_size?: number;
  selection_scope?: 'rank' | 'global';
}

/** Version-1 rows lack `cumulative`: sum the epochs (training and validation time, trained samples). */
export function withCumulative(rows: readonly EpochMetrics[]): EpochMetrics[] {
  let wall = 0;
  let grad = 0;
  let seen = 0;
  let steps = 0;
  return rows.map((m) => {
    wall += Number.isFinite(m.wall_seconds) ? m.wall_seconds : 0;
    grad += Number.isFinite(m.trained_samples) ? m.trained_samples : 0;
    seen += Number.isFinite(m.seen_samples) ? m.seen_samples : 0;
    steps += Number.isFinite(m.steps) ? m.steps : 0;
    if (m.cumulative as Cumulative | undefined) return m;
    const cumulative: Cumulative = { wall_seconds: wall, gradient_samples: grad, scored_samples: 0, feature_samples: 0, reference_samples: 0, seen_samples: seen, optimizer_steps: steps };
    return { ...m, cumulative };
  });
}

// --- Schemas of what is read back. Loose objects: fields a later version adds are kept. ---

/** JSON has no NaN: a metric that was NaN (an epoch with nothing trained) is written as null. */
const metric = z.number().nullable().transform((v) => v ?? NaN);
const phaseSeconds = z.object({ data: z.number(), scoring: z.number(), selection: z.number(), train: z.number(), eval: z.number(), checkpoint: z.number() });
const counts = z.object({
  gradient_samples: z.number(), scored_samples: z.number(), reference_samples: z.number(), feature_samples: z.number(), seen_samples: z.number(), optimizer_steps: z.number(),
});

export const trainConfigSchema = z.looseObject({
  model: z.string(),
  method: z.string(),
  filterRatio: z.number(),
  epochs: z.number().int(),
  batchSize: z.number().int(),
  lr: z.number(),
  momentum: z.number(),
  weightDecay: z.number(),
  seed: z.number().int(),
  featureSource: z.string(),
  solver: z.enum(['auto', 'eigh', 'lanczos']),
  schedule: z.object({ kind: z.string(), end: z.number() }).optional(),
  jestChunks: z.number().int().optional(),
  reference: z.string().optional(),
  saveSelections: z.boolean().default(false),
  selectionMode: z.enum(['in-batch', 'super-batch']).optional(),
  lrScaling: z.enum(['none', 'linear']).optional(),
  budget: z.object({ seconds: z.number().optional(), gradientSamples: z.number().optional() }).optional(),
  device: z.enum(['cpu', 'cuda']).optional(),
  precision: z.enum(['fp32', 'bf16']).optional(),
  memoryFormat: z.enum(['contiguous', 'channels-last']).optional(),
  evalEvery: z.number().int().optional(),
  lrSchedule: z.object({ kind: z.enum(['constant', 'cosine', 'step', 'onecycle']), warmupEpochs: z.number().optional(), milestones: z.array(z.number().int()).optional(), gamma: z.number().optional() }).optional(),
  scoreMode: z.enum(SCORE_MODES).optional(),
  referenceScores: z.enum(REFERENCE_SCORES).optional(),
  infobatchMode: z.enum(INFOBATCH_MODES).optional(),
  craigWeights: z.boolean().optional(),
  extra: z.record(z.string(), z.unknown()).optional(),
});

const valPoint = z.object({ gradient_samples: z.number(), wall_seconds: z.number(), val_loss: z.number(), val_accuracy: z.number() });

/** A metrics row; `cumulative` is optional here because version-1 runs lack it (the reader derives it). */
export const epochMetricsSchema = z.looseObject({
  epoch: z.number().int(),
  filter_ratio: z.number().default(0),
  train_loss: metric,
  train_accuracy: metric,
  val_loss: z.number().nullable(),
  val_accuracy: z.number().nullable(),
  trained_samples: z.number(),
  seen_samples: z.number(),
  steps: z.number(),
  seconds: phaseSeconds,
  wall_seconds: z.number(),
  selector: z.record(z.string(), z.number()).optional(),
  drawn_batch_size: z.number().optional(),
  cumulative: z.object({
    wall_seconds: z.number(), gradient_samples: z.number(), scored_samples: z.number(), feature_samples: z.number(),
    reference_samples: z.number(), seen_samples: z.number(), optimizer_steps: z.number(),
  }).optional(),
  partial: z.literal(true).optional(),
  val_points: z.array(valPoint).optional(),
  lr: z.number().optional(),
});

export const summarySchema = z.looseObject({
  method: z.string(),
  model: z.string(),
  filter_ratio: z.number(),
  epochs: z.number().int(),
  test_accuracy: z.number(),
  test_loss: metric,
  best_val_accuracy: z.number().nullable(),
  final_val_accuracy: z.number().nullable(),
  wall_seconds: z.number(),
  phases: phaseSeconds,
  counts,
  // Fields later versions added, with what older runs did.
  resumed_from_epoch: z.number().int().default(0),
  epochs_done: z.number().int().optional(),
  stopped_by: z.enum(['epochs', 'budget-seconds', 'budget-gradient-samples', 'non-finite loss']).default('epochs'),
  selection_mode: z.enum(['in-batch', 'super-batch']).default('in-batch'),
  batch_size: z.number().int().optional(),
  lr_scaling: z.enum(['none', 'linear']).default('none'),
  device: z.enum(['cpu', 'cuda']).default('cpu'),
  precision: z.enum(['fp32', 'bf16']).default('fp32'),
  memory_format: z.enum(['contiguous', 'channels-last']).default('contiguous'),
});
