/**
 * The report's tables as data: runs grouped by dataset and label, one row per label with mean ±
 * 95% CI over seeds of the paper's columns, every cost the trainer counts (selection cost is
 * never hidden), time to a target validation accuracy, and each method's difference to `none`
 * and to `random` at the same filter ratio (the control every comparison needs).
 * Formatting (text and HTML) is in table-format.ts.
 */
import type { RunRecord } from '../experiments/run-record.js';
import { PHASES, type Phase } from '../train/records.js';
import { accuracyWithin, lastEpoch, timeToTarget, validationSeries } from './series.js';
import { summarize, type Stat } from './stats.js';

/** A difference of this row to a reference group, paired by seed. */
export interface Comparison {
  /** The reference group's label. */
  against: string;
  /**
   * Seeds both groups have. With pairs ≥ 1 the stats are over per-seed differences (row − reference);
   * with 0 they hold the difference of the two means, without a CI.
   */
  pairs: number;
  testAccuracy: Stat;
  wallSeconds: Stat;
  /** Mean wall time of this row / the reference's (below 1: faster). */
  wallRatio: number;
}

export interface TimeToTarget {
  /** Cumulative wall seconds to the target, over the seeds that reached it. */
  seconds: Stat;
  reached: number;
  of: number;
}

export interface Row {
  dataset: string;
  label: string;
  /** The methods and filter ratios of the group's runs (normally one each). */
  methods: string[];
  filterRatios: number[];
  seeds: number[];
  runs: RunRecord[];
  n: number;
  trainAccuracy: Stat;
  trainLoss: Stat;
  valAccuracy: Stat;
  valLoss: Stat;
  testAccuracy: Stat;
  testLoss: Stat;
  wallSeconds: Stat;
  phases: Record<Phase, Stat>;
  gradientSamples: Stat;
  scoredSamples: Stat;
  referenceSamples: Stat;
  featureSamples: Stat;
  optimizerSteps: Stat;
  timeToTarget: TimeToTarget | null;
  atSeconds: AtBudget | null;
  atSamples: AtBudget | null;
  vsNone: Comparison | null;
  vsRandom: Comparison | null;
  /** This row against random at an equal number of gradient samples (any filter ratio, same selection mode). */
  vsRandomAtSamples: EqualSamplesComparison | null;
  /** jest / rho-loss: their reference model's own test accuracy over seeds (config.json extra.reference_test_accuracy). */
  reference: ReferenceAccuracy | null;
}

/**
 * A method against random at the same number of gradient samples: each side's best validation
 * accuracy within `gradientSamples` (the smaller of the two rows' mean gradient samples; mid-epoch
 * --eval-every validations count), differences paired by seed. A method whose keep ratio varies
 * (InfoBatch) or differs from random's meets its control at equal work rather than equal ratio.
 */
export interface EqualSamplesComparison {
  against: string;
  gradientSamples: number;
  /** Seeds where both sides validated within the budget. */
  pairs: number;
  valAccuracy: Stat;
}

/** The reference model's test accuracy; weak when its 95% CI reaches chance (1/classes), or with one seed, its value does. */
export interface ReferenceAccuracy {
  accuracy: Stat;
  chance: number | null;
  weak: boolean;
}

/** Best validation accuracy within a budget every method can afford, over the seeds that got there. */
export interface AtBudget {
  accuracy: Stat;
  reached: number;
  of: number;
}

export interface DatasetTable {
  dataset: string;
  /**
   * Equal budgets: the cheapest method's mean wall seconds and mean gradient samples. Each row's
   * atSeconds / atSamples is its best validation accuracy among epochs that ended within them
   * (and mid-epoch validations within them, for runs trained with --eval-every).
   */
  budget: { seconds: number; gradientSamples: number } | null;
  /** The validation accuracy time-to-target uses (null: no run has validation metrics). */
  target: number | null;
  /** 'given' by the caller, or 'auto': the lowest label's mean best validation accuracy, floored to 0.01. */
  targetSource: 'given' | 'auto';
  rows: Row[];
}

export interface Tables {
  datasets: DatasetTable[];
  /** Runs without summary.json: left out of every table and chart. */
  incomplete: RunRecord[];
}

/** The order methods appear in: the baselines first, then SALN, then the other selectors. */
const METHOD_ORDER = [
  'none', 'random', 'random-balanced', 'saln', 'saln-clamp', 'saln-normalized', 'saln-stratified', 'saln-smallest',
  'loss-topk', 'rho-loss', 'jest', 'infobatch', 'kcenter', 'craig', 'rho-diverse',
];

function methodRank(r: Row): number {
  const i = METHOD_ORDER.indexOf(r.methods[0] ?? '');
  return i < 0 ? METHOD_ORDER.length : i;
}

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];
const sameSet = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

function buildRow(dataset: string, label: string, runs: RunRecord[], target: number | null): Row {
  const last = runs.map((r) => lastEpoch(r.metrics));
  const sums = runs.map((r) => r.summary!);
  const num = (v: number | null | undefined): number => (typeof v === 'number' ? v : Number.NaN);
  const phases = Object.fromEntries(PHASES.map((p) => [p, summarize(sums.map((s) => num(s.phases?.[p])))])) as Record<Phase, Stat>;
  let ttt: TimeToTarget | null = null;
  if (target !== null) {
    const times = runs.map((r) => timeToTarget(validationSeries(r.metrics), target)).filter((t): t is number => t !== null);
    ttt = { seconds: summarize(times), reached: times.length, of: runs.length };
  }
  return {
    dataset, label,
    methods: uniq(runs.map((r) => r.method)),
    filterRatios: uniq(runs.map((r) => r.config.filterRatio)).sort((a, b) => a - b),
    seeds: runs.map((r) => r.seed),
    runs, n: runs.length,
    trainAccuracy: summarize(last.map((m) => num(m?.train_accuracy))),
    trainLoss: summarize(last.map((m) => num(m?.train_loss))),
    valAccuracy: summarize(last.map((m) => num(m?.val_accuracy))),
    valLoss: summarize(last.map((m) => num(m?.val_loss))),
    testAccuracy: summarize(sums.map((s) => s.test_accuracy)),
    testLoss: summarize(sums.map((s) => num(s.test_loss))),
    wallSeconds: summarize(sums.map((s) => num(s.wall_seconds))),
    phases,
    gradientSamples: summarize(sums.map((s) => num(s.counts?.gradient_samples))),
    scoredSamples: summarize(sums.map((s) => num(s.counts?.scored_samples))),
    referenceSamples: summarize(sums.map((s) => num(s.counts?.reference_samples))),
    featureSamples: summarize(sums.map((s) => num(s.counts?.feature_samples))),
    optimizerSteps: summarize(sums.map((s) => num(s.counts?.optimizer_steps))),
    timeToTarget: ttt,
    atSeconds: null,
    atSamples: null,
    vsNone: null,
    vsRandom: null,
    vsRandomAtSamples: null,
    reference: referenceAccuracy(runs),
  };
}

/** The runs' reference accuracy (null when none of them records one) and whether it is weak. */
function referenceAccuracy(runs: readonly RunRecord[]): ReferenceAccuracy | null {
  const accs = runs.map((r) => r.config.extra?.reference_test_accuracy).filter((v): v is number => typeof v === 'number');
  if (!accs.length) return null;
  const classes = runs.map((r) => {
    const e = r.config.extra;
    return Array.isArray(e?.classes) ? e.classes.length : typeof e?.classes_count === 'number' ? e.classes_count : null;
  }).find((c): c is number => c !== null && c > 0);
  const accuracy = summarize(accs);
  const chance = classes ? 1 / classes : null;
  const low = accuracy.half === null ? accuracy.mean : accuracy.mean - accuracy.half;
  return { accuracy, chance, weak: chance !== null && low <= chance };
}

/** This row minus the reference, paired by seed (see Comparison). */
export function compare(row: Row, ref: Row): Comparison {
  const bySeed = new Map(ref.runs.map((r) => [r.seed, r.summary!]));
  const accDiffs: number[] = [];
  const wallDiffs: number[] = [];
  for (const r of row.runs) {
    const o = bySeed.get(r.seed);
    if (!o) continue;
    accDiffs.push(r.summary!.test_accuracy - o.test_accuracy);
    wallDiffs.push(r.summary!.wall_seconds - o.wall_seconds);
  }
  const unpaired = (a: Stat, b: Stat): Stat => ({ n: 0, mean: a.mean - b.mean, std: null, half: null });
  return {
    against: ref.label,
    pairs: accDiffs.length,
    testAccuracy: accDiffs.length ? summarize(accDiffs) : unpaired(row.testAccuracy, ref.testAccuracy),
    wallSeconds: wallDiffs.length ? summarize(wallDiffs) : unpaired(row.wallSeconds, ref.wallSeconds),
    wallRatio: row.wallSeconds.mean / ref.wallSeconds.mean,
  };
}

const onlyMethod = (r: Row, m: string): boolean => r.methods.length === 1 && r.methods[0] === m;

/** The reference rows of a dataset: `none` (any), and `random` at exactly this row's filter ratio. */
const modesOf = (r: Row): string => uniq(r.runs.map((run) => run.config.selectionMode ?? 'in-batch')).sort().join(',');
/** 'wall' for a run on a wall-clock budget (an equal-wall-time entry), 'epochs' otherwise. */
export const budgetKind = (c: RunRecord['config']): 'wall' | 'epochs' => (c.budget?.seconds === undefined ? 'epochs' : 'wall');
const budgetKindOf = (r: Row): string => uniq(r.runs.map((run) => budgetKind(run.config))).sort().join(',');

function attachComparisons(rows: Row[]): void {
  const nones = rows.filter((r) => onlyMethod(r, 'none'));
  const none = nones.find((r) => r.label === 'none') ?? nones[0];
  for (const row of rows) {
    if (none && row !== none) row.vsNone = compare(row, none);
    // The control draws and trains the same way: same filter ratio, same selection mode, and the
    // same kind of budget (an equal-wall-time entry meets random at equal wall time).
    const randoms = rows.filter((r) => r !== row && onlyMethod(r, 'random') && sameSet(r.filterRatios, row.filterRatios) && modesOf(r) === modesOf(row) && budgetKindOf(r) === budgetKindOf(row));
    const random = randoms.find((r) => r.label === 'random') ?? randoms[0];
    if (random && !onlyMethod(row, 'none')) row.vsRandom = compare(row, random);
    // At equal gradient samples: the random row of the same mode (and ratio, when there is one) whose mean is closest.
    const sameMode = rows.filter((r) => r !== row && onlyMethod(r, 'random') && modesOf(r) === modesOf(row));
    const control = random ?? [...sameMode].sort((a, b) => Math.abs(a.gradientSamples.mean - row.gradientSamples.mean) - Math.abs(b.gradientSamples.mean - row.gradientSamples.mean))[0];
    if (control && !onlyMethod(row, 'random') && !onlyMethod(row, 'none')) row.vsRandomAtSamples = compareAtSamples(row, control);
  }
}

/** Best validation accuracy within the smaller mean gradient samples, row − control, paired by seed. */
export function compareAtSamples(row: Row, ref: Row): EqualSamplesComparison {
  const budget = Math.min(row.gradientSamples.mean, ref.gradientSamples.mean);
  const bySeed = new Map(ref.runs.map((r) => [r.seed, r]));
  const diffs: number[] = [];
  for (const r of row.runs) {
    const o = bySeed.get(r.seed);
    if (!o) continue;
    const a = accuracyWithin(validationSeries(r.metrics), budget, 'gradientSamples');
    const b = accuracyWithin(validationSeries(o.metrics), budget, 'gradientSamples');
    if (a !== null && b !== null) diffs.push(a - b);
  }
  return { against: ref.label, gradientSamples: budget, pairs: diffs.length, valAccuracy: summarize(diffs) };
}

/** A validation accuracy every label reaches on average: the lowest label mean of the best epoch's. */
function autoTarget(groups: RunRecord[][]): number | null {
  let lo = Infinity;
  for (const runs of groups) {
    const best = runs.map((r) => Math.max(...r.metrics.map((m) => m.val_accuracy ?? -Infinity))).filter((v) => Number.isFinite(v));
    if (best.length) lo = Math.min(lo, best.reduce((a, v) => a + v, 0) / best.length);
  }
  return Number.isFinite(lo) ? Math.floor(lo * 100 + 1e-9) / 100 : null;
}

/** Sets every row's accuracy at the cheapest row's mean wall seconds and gradient samples; returns those budgets. */
function attachBudgets(rows: Row[]): DatasetTable['budget'] {
  const means = (f: (r: Row) => Stat): number[] => rows.map((r) => f(r).mean).filter((v) => Number.isFinite(v));
  const secs = means((r) => r.wallSeconds);
  const samples = means((r) => r.gradientSamples);
  if (!secs.length || !samples.length) return null;
  const budget = { seconds: Math.min(...secs), gradientSamples: Math.min(...samples) };
  for (const r of rows) {
    const series = r.runs.map((run) => validationSeries(run.metrics));
    const at = (by: 'wallSeconds' | 'gradientSamples', b: number): AtBudget => {
      const accs = series.map((s) => accuracyWithin(s, b, by)).filter((a): a is number => a !== null);
      return { accuracy: summarize(accs), reached: accs.length, of: r.runs.length };
    };
    r.atSeconds = at('wallSeconds', budget.seconds);
    r.atSamples = at('gradientSamples', budget.gradientSamples);
  }
  return budget;
}

/**
 * Groups runs by dataset and label (datasets alphabetically, methods in METHOD_ORDER) and builds
 * every row. Incomplete runs (no summary) are set apart, never averaged in.
 */
export function buildTables(runs: readonly RunRecord[], o: { targetAccuracy?: number } = {}): Tables {
  if (o.targetAccuracy !== undefined && !(o.targetAccuracy > 0 && o.targetAccuracy <= 1)) {
    throw new RangeError(`targetAccuracy: expected a fraction in (0, 1], got ${o.targetAccuracy}`);
  }
  const incomplete = runs.filter((r) => r.status !== 'complete' || r.summary === null);
  const complete = runs.filter((r) => !incomplete.includes(r));
  const byDataset = new Map<string, Map<string, RunRecord[]>>();
  for (const r of complete) {
    const labels = byDataset.get(r.dataset) ?? new Map<string, RunRecord[]>();
    byDataset.set(r.dataset, labels);
    labels.set(r.label, [...(labels.get(r.label) ?? []), r]);
  }
  const datasets: DatasetTable[] = [...byDataset.keys()].sort().map((dataset) => {
    const groups = byDataset.get(dataset)!;
    const target = o.targetAccuracy ?? autoTarget([...groups.values()]);
    const rows = [...groups].map(([label, rs]) => buildRow(dataset, label, [...rs].sort((a, b) => a.seed - b.seed || a.id - b.id), target));
    rows.sort((a, b) => methodRank(a) - methodRank(b) || a.label.localeCompare(b.label));
    attachComparisons(rows);
    const budget = attachBudgets(rows);
    return { dataset, target, budget, targetSource: o.targetAccuracy !== undefined ? 'given' : 'auto', rows };
  });
  return { datasets, incomplete };
}
