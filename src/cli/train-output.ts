/**
 * What `saln train` and `saln experiment` show while a run trains, as fit callbacks: a progress
 * bar per epoch (stderr, TTY only), a line per epoch, or one JSON event per line (--json).
 */
import { startProgress, type Progress } from '../models/progress.js';
import { eventCallback, type FitCallback, type TrainEvent } from '../train/callbacks.js';
import type { EpochMetrics, Summary } from '../train/records.js';

/** A bar per epoch: samples, img/s and the running train loss. */
export function progressCallback(enabled: boolean): FitCallback {
  if (!enabled || !process.stderr.isTTY) return {};
  let bar: Progress | null = null;
  let t0 = 0;
  return {
    onEpochStart: (i) => {
      t0 = performance.now();
      bar = startProgress(`epoch ${i.epoch + 1}/${i.epochs}`, i.samples, { units: 'img', fields: { ips: '- img/s', loss: 'loss -' } });
    },
    onBatchEnd: (i) => bar?.update(i.seen, {
      ips: `${(i.seen / Math.max((performance.now() - t0) / 1000, 1e-9)).toFixed(1)} img/s`,
      loss: `loss ${(i.trained ? i.lossSum / i.trained : 0).toFixed(4)}`,
    }),
    onValidationStart: () => {
      bar?.stop();
      bar = null;
    },
  };
}

/** One line per epoch for people (stderr). */
export function epochLine(m: EpochMetrics, epochs: number): string {
  return `epoch ${m.epoch}/${epochs}${m.partial ? ' (partial: the run stopped inside it)' : ''}: train loss ${m.train_loss.toFixed(4)} acc ${(100 * m.train_accuracy).toFixed(1)}% (${m.trained_samples} trained)` +
    (m.val_accuracy !== null ? ` | val loss ${m.val_loss!.toFixed(4)} acc ${(100 * m.val_accuracy).toFixed(1)}%` : '') + ` | ${m.wall_seconds.toFixed(1)} s`;
}

/** The run's closing line (stdout). */
export function summaryLine(out: string, s: Summary): string {
  const ph = Object.entries(s.phases).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
  return `${out}: test accuracy ${(100 * s.test_accuracy).toFixed(2)}%, best val ${s.best_val_accuracy === null ? '-' : (100 * s.best_val_accuracy).toFixed(2) + '%'}, ${s.wall_seconds.toFixed(1)} s (${ph}); ` +
    `${s.counts.gradient_samples} gradient samples in ${s.counts.optimizer_steps} steps, stopped by ${s.stopped_by}\n`;
}

export interface OutputOptions {
  json: boolean;
  progress: boolean;
  epochs: number;
  out(text: string): void;
  log(text: string): void;
}

/** The callbacks of a run shown on the console: JSON events, or a bar and a line per epoch. */
export function consoleCallbacks(o: OutputOptions): FitCallback[] {
  if (o.json) return [eventCallback((e: TrainEvent) => o.out(`${JSON.stringify(e)}\n`))];
  return [progressCallback(o.progress), { onEpochEnd: (m) => o.log(epochLine(m, o.epochs)) }];
}

/**
 * Test hook: SALN_TEST_SIGKILL_AFTER_EPOCH=E kills the process by SIGKILL right after epoch E's
 * checkpoint (the resume tests). Lives in the CLI so the library has no such hook.
 */
export function killHookCallback(): FitCallback {
  const at = process.env.SALN_TEST_SIGKILL_AFTER_EPOCH;
  if (!at) return {};
  return { onCheckpointSaved: (i) => void (String(i.epoch) === at && process.kill(process.pid, 'SIGKILL')) };
}

/**
 * Test hook for data-parallel jobs: SALN_TEST_SIGKILL_RANK=R with SALN_TEST_SIGKILL_AT_STEP=S kills
 * rank R by SIGKILL after its S-th optimizer step of this process (mid-epoch: the failure tests).
 */
export function killRankHookCallback(): FitCallback {
  const rank = process.env.SALN_TEST_SIGKILL_RANK;
  const at = Number(process.env.SALN_TEST_SIGKILL_AT_STEP);
  if (rank === undefined || rank !== (process.env.RANK ?? '0') || !(at >= 1)) return {};
  let steps = 0;
  return { onBatchEnd: () => void (++steps === at && process.kill(process.pid, 'SIGKILL')) };
}
