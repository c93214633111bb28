/**
 * Learning-rate schedules as pure functions of the optimizer-step counter (PyTorch's closed
 * forms), so that a resumed run, whose step counter is in its checkpoint, gets the same learning
 * rate at every step as the uninterrupted run. `t` is the number of optimizer steps already taken
 * (the scheduler's last_epoch when it is stepped once per optimizer step):
 *
 *   constant  lr
 *   cosine    CosineAnnealingLR(T_max = T, eta_min = 0): lr·(1 + cos(π·t/T))/2, reaching 0 at t = T
 *   step      MultiStepLR(milestones, gamma) stepped once per epoch: lr·gamma^(#milestones ≤ epoch)
 *   onecycle  OneCycleLR(max_lr = lr, total_steps = T) with its defaults: pct_start 0.3, cos
 *             annealing, div_factor 25, final_div_factor 1e4, three_phase false, and
 *             cycle_momentum (momentum 0.95 → 0.85 while the lr rises, back to 0.95 as it falls)
 *
 * Warmup (not with onecycle, which has its own): W steps of LinearLR(start_factor = 1/W,
 * end_factor = 1, total_iters = W − 1), i.e. lr·(t + 1)/W for t < W, chained as SequentialLR
 * does: after W steps the main schedule starts from its own t = 0 over T − W steps.
 */
export const LR_SCHEDULES = ['constant', 'cosine', 'step', 'onecycle'] as const;
export type LrScheduleKind = (typeof LR_SCHEDULES)[number];

export interface LrSchedule {
  kind: LrScheduleKind;
  /** The run's planned optimizer steps T (cosine, onecycle). */
  totalSteps: number;
  /** Linear warmup steps W (0: none). */
  warmupSteps?: number;
  /** step: the epochs (0-based, counted from the run's start) at which lr is multiplied by gamma. */
  milestones?: readonly number[];
  gamma?: number;
}

/** OneCycleLR's defaults (torch.optim.lr_scheduler.OneCycleLR). */
export const ONE_CYCLE = { pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4, baseMomentum: 0.85, maxMomentum: 0.95 } as const;

export interface LrAt {
  lr: number;
  /** Set when the schedule drives momentum too (onecycle's cycle_momentum). */
  momentum?: number;
}

/** OneCycleLR's cosine annealing from start to end at pct ∈ [0, 1]. */
const annealCos = (start: number, end: number, pct: number): number => end + ((start - end) / 2) * (1 + Math.cos(Math.PI * pct));

/** OneCycleLR (two phases) at step t of total, as torch computes it in get_lr(). */
export function oneCycleAt(maxLr: number, t: number, total: number): Required<LrAt> {
  const initial = maxLr / ONE_CYCLE.divFactor;
  const min = initial / ONE_CYCLE.finalDivFactor;
  const end1 = ONE_CYCLE.pctStart * total - 1;
  const end2 = total - 1;
  if (t <= end1) {
    const pct = t / end1;
    return { lr: annealCos(initial, maxLr, pct), momentum: annealCos(ONE_CYCLE.maxMomentum, ONE_CYCLE.baseMomentum, pct) };
  }
  // The last phase also covers steps past T (torch raises there; a partial last batch may add one).
  const pct = Math.min(1, (t - end1) / (end2 - end1));
  return { lr: annealCos(maxLr, min, pct), momentum: annealCos(ONE_CYCLE.baseMomentum, ONE_CYCLE.maxMomentum, pct) };
}

/** The learning rate (and momentum, for onecycle) of the optimizer step taken after t steps, in epoch `epoch`. */
export function lrAt(base: number, s: LrSchedule, t: number, epoch: number): LrAt {
  if (s.kind === 'onecycle') return oneCycleAt(base, t, Math.max(1, s.totalSteps));
  const w = s.warmupSteps ?? 0;
  const warm = t < w ? (t + 1) / w : 1;
  const u = Math.max(0, t - w);
  switch (s.kind) {
    case 'constant': return { lr: base * warm };
    case 'cosine': {
      const T = Math.max(1, s.totalSteps - w);
      return { lr: base * warm * (1 + Math.cos(Math.PI * Math.min(u, T) / T)) / 2 };
    }
    case 'step': {
      const passed = (s.milestones ?? []).filter((m) => m <= epoch).length;
      return { lr: base * warm * (s.gamma ?? 0.1) ** passed };
    }
    default: throw new Error(`unknown lr schedule ${JSON.stringify((s as LrSchedule).kind)}`);
  }
}
