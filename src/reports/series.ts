/**
 * Per-epoch series of one run with cumulative cost: wall seconds and gradient samples up to the
 * end of each epoch. Prefers the trainer's own `cumulative` record when metrics.jsonl has it;
 * otherwise sums the epochs' wall_seconds (training and validation; checkpoint writes are not
 * in an epoch's wall_seconds) and trained_samples.
 */
import type { EpochMetrics } from '../train/trainer.js';

/** What newer trainers add to each epoch's metrics (optional: older runs lack it). */
interface WithCumulative {
  cumulative?: { wall_seconds?: number; gradient_samples?: number };
}

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

export function epochSeries(metrics: readonly EpochMetrics[]): EpochPoint[] {
  let wall = 0;
  let grad = 0;
  return metrics.map((m) => {
    wall += Number.isFinite(m.wall_seconds) ? m.wall_seconds : 0;
    grad += Number.isFinite(m.trained_samples) ? m.trained_samples : 0;
    const c = (m as EpochMetrics & WithCumulative).cumulative;
    return {
      epoch: m.epoch,
      trainLoss: m.train_loss,
      trainAccuracy: m.train_accuracy,
      valLoss: m.val_loss ?? null,
      valAccuracy: m.val_accuracy ?? null,
      wallSeconds: typeof c?.wall_seconds === 'number' ? c.wall_seconds : wall,
      gradientSamples: typeof c?.gradient_samples === 'number' ? c.gradient_samples : grad,
    };
  });
}

/** Cumulative wall seconds at the first epoch whose validation accuracy reaches target; null if none does. */
export function timeToTarget(points: readonly EpochPoint[], target: number): number | null {
  const hit = points.find((p) => p.valAccuracy !== null && p.valAccuracy >= target);
  return hit ? hit.wallSeconds : null;
}

/**
 * The best validation accuracy among epochs that ended within a budget (cumulative wall seconds,
 * or gradient samples); null when even the first epoch went past it.
 */
export function accuracyWithin(points: readonly EpochPoint[], budget: number, by: 'wallSeconds' | 'gradientSamples'): number | null {
  let best: number | null = null;
  for (const p of points) {
    if (p[by] > budget || p.valAccuracy === null) continue;
    best = best === null ? p.valAccuracy : Math.max(best, p.valAccuracy);
  }
  return best;
}
