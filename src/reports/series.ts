/**
 * Per-epoch series of one run with cumulative cost: wall seconds and gradient samples up to the
 * end of each epoch, from each row's `cumulative` record.
 *
 * Runs trained with --eval-every also have validations inside epochs (val_points);
 * validationSeries merges them with the epoch ends, so equal-budget lookups and time to target
 * are not limited to epoch granularity.
 */
import { withCumulative, type EpochMetrics } from '../train/records.js';

export interface EpochPoint {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
  /** Wall seconds from the run's start to the end of this epoch. */
  wallSeconds: number;
  /** Gradient samples (forward/backward with gradients) from the run's start to the end of this epoch. */
  gradientSamples: number;
}

/** A run's last recorded epoch (undefined before its first): what its "final" train and val accuracies read. */
export function lastEpoch(metrics: readonly EpochMetrics[]): EpochMetrics | undefined {
  return metrics[metrics.length - 1];
}

/** Epoch ends with their cumulative cost (withCumulative derives it for rows of older runs). */
export function epochSeries(metrics: readonly EpochMetrics[]): EpochPoint[] {
  return withCumulative(metrics).map((m) => {
    return {
      epoch: m.epoch,
      trainLoss: m.train_loss,
      trainAccuracy: m.train_accuracy,
      valLoss: m.val_loss ?? null,
      valAccuracy: m.val_accuracy ?? null,
      wallSeconds: m.cumulative.wall_seconds,
      gradientSamples: m.cumulative.gradient_samples,
    };
  });
}

/** Where a validation happened and what it scored: what the budget lookups need of a point. */
export type BudgetPoint = Pick<EpochPoint, 'valAccuracy' | 'wallSeconds' | 'gradientSamples'>;

/** A validation: at an epoch's end, or inside it (epoch then fractional: 1.5 is halfway through the second). */
export type ValidationPoint = Pick<EpochPoint, 'epoch' | 'valLoss' | 'valAccuracy' | 'wallSeconds' | 'gradientSamples'>;

/**
 * Every validation of a run in order of gradient samples: the epoch ends and, when the run has
 * them, the mid-epoch val_points (whose wall seconds, like the epochs', leave their own time out).
 * Without val_points this is epochSeries.
 */
export function validationSeries(metrics: readonly EpochMetrics[]): ValidationPoint[] {
  const ends = epochSeries(metrics);
  const mids: ValidationPoint[] = metrics.flatMap((m, i) => {
    const pts = m.val_points ?? [];
    const from = i > 0 ? ends[i - 1]!.gradientSamples : 0;
    const span = ends[i]!.gradientSamples - from;
    return pts.map((p) => ({
      epoch: m.epoch - 1 + (span > 0 ? (p.gradient_samples - from) / span : 1),
      valLoss: p.val_loss, valAccuracy: p.val_accuracy, wallSeconds: p.wall_seconds, gradientSamples: p.gradient_samples,
    }));
  });
  if (!mids.length) return ends;
  return [...ends, ...mids].sort((a, b) => a.gradientSamples - b.gradientSamples || a.wallSeconds - b.wallSeconds);
}

/** Cumulative wall seconds at the first point (in order) whose validation accuracy reaches target; null if none does. */
export function timeToTarget(points: readonly BudgetPoint[], target: number): number | null {
  const hit = points.find((p) => p.valAccuracy !== null && p.valAccuracy >= target);
  return hit ? hit.wallSeconds : null;
}

/**
 * The best validation accuracy among points (epoch ends, or validationSeries' points) within a
 * budget (cumulative wall seconds, or gradient samples); null when even the first went past it.
 */
export function accuracyWithin(points: readonly BudgetPoint[], budget: number, by: 'wallSeconds' | 'gradientSamples'): number | null {
  let best: number | null = null;
  for (const p of points) {
    if (p[by] > budget || p.valAccuracy === null) continue;
    best = best === null ? p.valAccuracy : Math.max(best, p.valAccuracy);
  }
  return best;
}
