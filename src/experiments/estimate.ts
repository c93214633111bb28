/**
 * How long an experiment's unfinished cells will take, read from its finished ones: the last lines
 * of `saln experiment --dry-run`, so a day-long grid says how much of the day is left.
 */
import type { RunState } from './runner.js';

/** One cell of the grid as the estimate sees it. */
export interface CellTime {
  /** The entry: dataset and label (the seeds of one entry cost about the same). */
  entry: string;
  state: RunState;
  /** A finished cell's training wall seconds (its summary; a lost run's: its whole cost); null otherwise. */
  wallSeconds: number | null;
  /** The cell's --budget-seconds when it has one (equal wall time entries); null otherwise. */
  budgetSeconds: number | null;
}

export interface Remaining {
  counts: Record<RunState, number>;
  /** Estimated training seconds of the unfinished cells that have an estimate. */
  seconds: number;
  /** Unfinished cells with no estimate: no finished run of their entry and no wall budget. */
  unknown: number;
}

/**
 * Each unfinished cell costs its entry's mean over finished runs, else its wall budget; an
 * interrupted cell counts in full (its resume repeats at most an epoch, and its own finished part is
 * small next to a grid).
 */
export function estimateRemaining(cells: readonly CellTime[]): Remaining {
  const counts: Record<RunState, number> = { done: 0, interrupted: 0, new: 0, waiting: 0, lost: 0 };
  const finished = new Map<string, number[]>();
  for (const c of cells) {
    counts[c.state]++;
    if ((c.state === 'done' || c.state === 'lost') && c.wallSeconds !== null) finished.set(c.entry, [...(finished.get(c.entry) ?? []), c.wallSeconds]);
  }
  let seconds = 0;
  let unknown = 0;
  for (const c of cells) {
    if (c.state === 'done' || c.state === 'lost') continue;
    const done = finished.get(c.entry);
    const each = done ? done.reduce((a, b) => a + b, 0) / done.length : c.budgetSeconds;
    if (each === null) unknown++;
    else seconds += each;
  }
  return { counts, seconds, unknown };
}

/** "28 done, 1 interrupted, 62 new, 0 waiting" and the time left, for the dry run's last lines. */
export function formatRemaining(r: Remaining): string {
  const total = Object.values(r.counts).reduce((a, b) => a + b, 0);
  const lost = r.counts.lost ? ` (${r.counts.lost} of them on an earlier machine: lost runs)` : '';
  const counts = `${total} run${total === 1 ? '' : 's'}: ${r.counts.done + r.counts.lost} done${lost}, ${r.counts.interrupted} interrupted, ${r.counts.new} new, ${r.counts.waiting} waiting`;
  const left = total - r.counts.done - r.counts.lost;
  if (left === 0) return `${counts}\n`;
  if (r.unknown === left) return `${counts}\ntime left: not known yet (no unfinished entry has a finished run or a wall budget)\n`;
  const hours = r.seconds / 3600;
  const time = hours >= 1 ? `${hours.toFixed(1)} h` : `${Math.round(r.seconds / 60)} min`;
  const basis = 'each entry\'s mean training wall time over its finished runs, else its wall budget; one-time work such as feature extraction not included';
  const missing = r.unknown ? `; ${r.unknown} of the ${left} unfinished runs have no finished run of their entry and no budget, and are not counted` : '';
  return `${counts}\ntime left: about ${time} (${basis}${missing})\n`;
}
