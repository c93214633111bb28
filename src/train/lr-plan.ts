/**
 * A run's learning-rate schedule (optim/lr-schedule.ts) from its configuration: the schedule is a
 * function of the optimizer-step counter, which the checkpoint holds, so a resume replays it.
 *
 * T, the run's planned optimizer steps (cosine anneals to 0 over them; onecycle spans them), is
 * counted from the plan: every epoch's batches at its drawn size (a filter-ratio schedule changes
 * it in super-batch mode), cut at a gradient-sample budget where the run will stop (per-batch k
 * from keepFor; selectors that decide k themselves count a full batch, an upper bound).
 *
 * A wall-time budget cannot be planned in steps, so cosine and onecycle then run on the clock
 * (budgeted training, Li et al. 2020: decay to the budget, not to an epoch count the run never
 * reaches): their progress after warmup is the run's wall seconds over the budget, and the lr
 * reaches its end as the budget does. Such a schedule depends on timing, as the budget does.
 * Step schedules stay on their epochs. InfoBatch's official mode prunes
 * the epoch itself and so takes fewer steps than planned: its cosine stops short of 0.
 * Warmup epochs become steps at the first epoch's batches per epoch.
 */
import { lrAt, type LrAt, type LrSchedule } from '../optim/lr-schedule.js';
import { drawnBatchSize, keepFor } from './modes.js';
import type { TrainConfig } from './records.js';
import { ratioAt } from './schedule.js';
import type { BatchSource } from './source.js';

/** Batch sizes of one epoch of `samples` drawn `drawn` at a time (the last may be smaller). */
function batchSizes(samples: number, drawn: number): number[] {
  const nb = Math.ceil(samples / drawn);
  return Array.from({ length: nb }, (_, i) => (i < nb - 1 ? drawn : samples - (nb - 1) * drawn));
}

/** The steps a run will take (see the file comment), and the first epoch's batches. */
export function plannedSteps(cfg: TrainConfig, train: BatchSource, o: { variableK?: boolean } = {}): { total: number; perEpoch: number } {
  const mode = cfg.selectionMode ?? 'in-batch';
  const budget = cfg.budget?.gradientSamples;
  let steps = 0;
  let grad = 0;
  let perEpoch = 0;
  for (let e = 0; e < cfg.epochs; e++) {
    const ratio = ratioAt(cfg.filterRatio, cfg.schedule, e, cfg.epochs);
    const drawn = drawnBatchSize(mode, cfg.batchSize, ratio);
    const sizes = train.batchSize === drawn ? batchSizes(train.samples, drawn).slice(0, train.batches) : batchSizes(train.samples, drawn);
    if (e === 0) perEpoch = sizes.length;
    for (const b of sizes) {
      steps++;
      grad += o.variableK ? Math.min(b, mode === 'super-batch' ? cfg.batchSize : b) : keepFor(b, ratio, cfg.batchSize, mode);
      if (budget !== undefined && grad >= budget) return { total: steps, perEpoch };
    }
  }
  return { total: steps, perEpoch };
}

/** A run's schedule; `overSeconds`: it runs on the clock, over a wall-time budget (see the file comment). */
export interface RunLrSchedule extends LrSchedule {
  overSeconds?: number;
}

/** The nominal steps of a schedule on the clock: progress p is step WALL_STEPS·p. */
const WALL_STEPS = 1_000_000;

/** The run's schedule, or null for a constant learning rate without warmup (the paper's). */
export function lrScheduleFor(cfg: TrainConfig, train: BatchSource, o: { variableK?: boolean } = {}): RunLrSchedule | null {
  const s = cfg.lrSchedule;
  if (!s || (s.kind === 'constant' && !s.warmupEpochs)) return null;
  const plan = plannedSteps(cfg, train, o);
  const warmupSteps = s.warmupEpochs ? Math.max(1, Math.round(s.warmupEpochs * plan.perEpoch)) : 0;
  const seconds = cfg.budget?.seconds;
  if (seconds !== undefined && (s.kind === 'cosine' || s.kind === 'onecycle')) {
    return { kind: s.kind, totalSteps: (s.kind === 'cosine' ? warmupSteps : 0) + WALL_STEPS, warmupSteps, overSeconds: seconds };
  }
  return {
    kind: s.kind, totalSteps: plan.total, warmupSteps,
    ...(s.kind === 'step' ? { milestones: s.milestones ?? [Math.floor(cfg.epochs / 2)], gamma: s.gamma ?? 0.1 } : {}),
  };
}

/**
 * The lr (and momentum, for onecycle) of the step after `steps` steps in `epoch`, `wallSeconds`
 * into the run: cfg.lr when there is no schedule.
 */
export function scheduledLr(cfg: TrainConfig, schedule: RunLrSchedule | null, steps: number, epoch: number, wallSeconds = 0): LrAt {
  if (!schedule) return { lr: cfg.lr };
  if (schedule.overSeconds === undefined) return lrAt(cfg.lr, schedule, steps, epoch);
  // On the clock: warmup in steps, then the step that matches the fraction of the budget spent.
  const w = schedule.kind === 'cosine' ? schedule.warmupSteps ?? 0 : 0;
  const t = steps < w ? steps : w + Math.min(WALL_STEPS, Math.floor((WALL_STEPS * wallSeconds) / schedule.overSeconds));
  return lrAt(cfg.lr, schedule, t, epoch);
}
