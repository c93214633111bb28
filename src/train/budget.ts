/**
 * Equal-budget runs: stop after the optimizer step that reaches a budget of gradient samples or
 * of wall seconds, instead of at the epoch count (which becomes the maximum). A gradient-sample
 * budget is deterministic (the same step for the same seed); a wall-time budget is not: it
 * depends on the machine and its load, so two runs may stop at different steps.
 */
/** Why a run stopped: its epochs, a budget, or a loss that went NaN or infinite. */
export type StoppedBy = 'epochs' | 'budget-seconds' | 'budget-gradient-samples' | 'non-finite loss';

export interface Budget {
  /** Wall seconds of the whole run (all sessions: training, validation, checkpoints). */
  seconds?: number;
  /** Samples through backward. */
  gradientSamples?: number;
}

/** Which budget is reached, if any; the deterministic gradient-sample budget wins a tie. */
export function budgetReached(b: Budget | undefined, wallSeconds: number, gradientSamples: number): StoppedBy | null {
  if (!b) return null;
  if (b.gradientSamples !== undefined && gradientSamples >= b.gradientSamples) return 'budget-gradient-samples';
  if (b.seconds !== undefined && wallSeconds >= b.seconds) return 'budget-seconds';
  return null;
}
