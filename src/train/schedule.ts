/**
 * Filter-ratio schedules, for any selector: the ratio of epoch e (0-based) of E goes from `start`
 * (the run's filter ratio) to `end`:
 *   constant  start every epoch;
 *   linear    start + (end − start)·t, t = e/(E − 1);
 *   cosine    end + (start − end)·(1 + cos(π·t))/2;
 *   step      start for epochs e < E/2 (rounded down), end from there on.
 * With one epoch, t = 0 (start).
 */
export const SCHEDULES = ['constant', 'linear', 'cosine', 'step'] as const;
export type ScheduleKind = (typeof SCHEDULES)[number];

export interface FilterSchedule {
  kind: ScheduleKind;
  /** The ratio at the last epoch (ignored by constant). */
  end: number;
}

export function ratioAt(start: number, schedule: FilterSchedule | undefined, epoch: number, epochs: number): number {
  if (!schedule || schedule.kind === 'constant') return start;
  const t = epochs > 1 ? epoch / (epochs - 1) : 0;
  switch (schedule.kind) {
    case 'linear': return start + (schedule.end - start) * t;
    case 'cosine': return schedule.end + (start - schedule.end) * (1 + Math.cos(Math.PI * t)) / 2;
    case 'step': return epoch < Math.floor(epochs / 2) ? start : schedule.end;
    default: throw new Error(`unknown schedule ${JSON.stringify((schedule as FilterSchedule).kind)}`);
  }
}
