/**
 * PhaseClock: where a run's time goes (data, scoring, selection, train, eval, checkpoint) and the
 * run's wall clock, in one place. Time spent in `outside()` (mid-epoch validations) is counted in
 * its phase but left out of the wall clock and of every stopwatch running across it, so
 * validating more often never makes a method look slower or spend its budget.
 *
 * Reads performance.now() at every call (tests replace it with a fake clock).
 */
import { zeroPhases, type Phase, type PhaseSeconds } from './records.js';

export interface Stopwatch {
  /** Seconds since the stopwatch started, without the clock's outside() time in between. */
  seconds(): number;
}

export class PhaseClock {
  /** This epoch's seconds per phase; reset by startEpoch(). */
  epoch: PhaseSeconds = zeroPhases();
  private readonly base: number;
  private readonly startMs: number;
  private outsideMs = 0;

  /** `baseSeconds`: the wall seconds of earlier sessions of the run (a resume). */
  constructor(baseSeconds = 0) {
    this.base = baseSeconds;
    this.startMs = performance.now();
  }

  startEpoch(): Stopwatch {
    this.epoch = zeroPhases();
    return this.stopwatch();
  }

  stopwatch(): Stopwatch {
    const t0 = performance.now();
    const out0 = this.outsideMs;
    return { seconds: () => (performance.now() - t0 - (this.outsideMs - out0)) / 1000 };
  }

  /** The run's wall seconds so far: earlier sessions plus this one, without outside() time. */
  wallSeconds(): number {
    return this.base + (performance.now() - this.startMs - this.outsideMs) / 1000;
  }

  /** Runs fn, adding its time to `phase` (this epoch's). */
  time<T>(phase: Phase, fn: () => T): T {
    const t = performance.now();
    try {
      return fn();
    } finally {
      this.epoch[phase] += (performance.now() - t) / 1000;
    }
  }

  timeAsync<T>(phase: Phase, fn: () => Promise<T>): Promise<T> {
    return this.timed(phase, fn, false);
  }

  /** Like timeAsync, but the time is kept out of the wall clock and of running stopwatches. */
  outside<T>(phase: Phase, fn: () => Promise<T>): Promise<T> {
    return this.timed(phase, fn, true);
  }

  private async timed<T>(phase: Phase, fn: () => Promise<T>, outside: boolean): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      const ms = performance.now() - t;
      this.epoch[phase] += ms / 1000;
      if (outside) this.outsideMs += ms;
    }
  }
}
