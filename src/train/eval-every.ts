/**
 * Validation every N gradient samples (--eval-every), between epoch ends, so equal-budget
 * comparisons are not limited to epoch granularity. Points are recorded in their epoch's
 * metrics (val_points); their time is kept out of the run's wall clock and counted as eval.
 */

/** One mid-epoch validation: where the run was (samples, wall clock without these passes) and what it scored. */
export interface ValPoint {
  gradient_samples: number;
  /** The run's wall seconds at that step, without the time of any mid-epoch validation so far. */
  wall_seconds: number;
  val_loss: number;
  val_accuracy: number;
}

/** Whether a step from `before` to `after` gradient samples reached a multiple of n (several multiples: once). */
export function crossesMultiple(before: number, after: number, n: number): boolean {
  return Math.floor(after / n) > Math.floor(before / n);
}
