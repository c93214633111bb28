/**
 * Runs whose directories are lost (trained on an earlier machine, gone with it) still count. A
 * results file written while they existed holds each seed's headline values (per_seed) and each
 * entry's statistics over its seeds; mergeLostRuns adds them to the results built from the runs
 * at hand:
 * - per-seed values exactly: the seeds, test and validation accuracy, cost, gradient samples, and
 *   every paired Δ vs standard training and vs random (recomputed from the merged per_seed);
 * - statistics that need a run's curves or phases (time to target, selection cost share, Δ at
 *   equal gradient samples, the reference's accuracy) pooled from the two groups' means and 95%
 *   CIs, which give back each group's n, mean and standard deviation (std = ci95·√n / t(0.975,
 *   n − 1)): the pooled mean and CI are those of all the values together, up to the files' rounding.
 * A seed may not be both a run at hand and a lost run: that is an error naming it.
 */
import { InputError } from '../errors.js';
import { cellKey, type RunRecord } from '../experiments/run-record.js';
import { plain, resultEntrySchema, resultsFileSchema, round, type ReadResultEntry, type ReadResultsFile, type ResultEntry, type ResultsFile } from './results.js';
import { studentTQuantile, summarize } from './stats.js';

type StatJson = { mean: number | null; ci95: number | null };
type SeedResult = ResultEntry['per_seed'][number];

/** n values summarized by their mean and their sum of squared deviations from it. */
interface Group {
  n: number;
  mean: number;
  m2: number;
}

/** A stat of n values back to its group; null when it holds no value. */
function groupOf(s: StatJson | null | undefined, n: number): Group | null {
  if (!s || s.mean === null || n < 1) return null;
  const std = n >= 2 && s.ci95 !== null ? (s.ci95 * Math.sqrt(n)) / studentTQuantile(0.975, n - 1) : 0;
  return { n, mean: s.mean, m2: std * std * (n - 1) };
}

/** Both groups as one (Chan et al.'s parallel variance). */
function pool(a: Group | null, b: Group | null): Group | null {
  if (!a || !b) return a ?? b;
  const n = a.n + b.n;
  const d = b.mean - a.mean;
  return { n, mean: a.mean + (d * b.n) / n, m2: a.m2 + b.m2 + (d * d * a.n * b.n) / n };
}

function statOf(g: Group | null, digits: number): StatJson {
  if (!g) return { mean: null, ci95: null };
  const ci = g.n >= 2 ? (studentTQuantile(0.975, g.n - 1) * Math.sqrt(g.m2 / (g.n - 1))) / Math.sqrt(g.n) : null;
  return { mean: round(g.mean, digits), ci95: ci === null ? null : round(ci, digits) };
}

function statOfValues(xs: readonly number[], digits: number): StatJson {
  return plain(summarize(xs), digits);
}

function pooledReached(a: ResultEntry['time_to_95pct'], b: ResultEntry['time_to_95pct']): ResultEntry['time_to_95pct'] {
  if (!a || !b) return a ?? b;
  return { ...statOf(pool(groupOf(a, a.reached), groupOf(b, b.reached)), 1), reached: a.reached + b.reached, of: a.of + b.of };
}

function pooledEqualSamples(a: ResultEntry['delta_vs_random_equal_samples'], b: ResultEntry['delta_vs_random_equal_samples']): ResultEntry['delta_vs_random_equal_samples'] {
  if (!a || !b || a.pairs + b.pairs === 0) return a ?? b;
  // Each group met its control at its own budget (the smaller mean gradient samples of its runs); the merged one reports their pair-weighted mean.
  const samples = Math.round((a.gradient_samples * a.pairs + b.gradient_samples * b.pairs) / (a.pairs + b.pairs));
  return { ...statOf(pool(groupOf(a, a.pairs), groupOf(b, b.pairs)), 2), pairs: a.pairs + b.pairs, against: a.against, gradient_samples: samples };
}

function pooledReference(a: ResultEntry, b: ResultEntry): ResultEntry['reference_accuracy'] {
  const x = a.reference_accuracy;
  const y = b.reference_accuracy;
  if (!x || !y) return x ?? y;
  const s = statOf(pool(groupOf(x, a.seeds.length), groupOf(y, b.seeds.length)), 2);
  const low = s.mean === null ? null : s.mean - (s.ci95 ?? 0);
  return { ...s, chance: x.chance, weak: x.chance !== null && low !== null && low <= x.chance };
}

/** One entry over both groups of seeds (their Δ vs none and vs random are recomputed afterwards). */
function mergeEntry(fresh: ResultEntry, lost: ResultEntry): ResultEntry {
  const perSeed = [...fresh.per_seed, ...lost.per_seed].sort((x, y) => x.seed - y.seed);
  const vals = perSeed.map((r) => r.val_accuracy);
  return {
    ...fresh,
    precision: [...new Set([...fresh.precision.split(','), ...lost.precision.split(',')])].sort().join(','),
    contended_runs: fresh.contended_runs + lost.contended_runs,
    seeds: perSeed.map((r) => r.seed),
    test_accuracy: statOfValues(perSeed.map((r) => r.test_accuracy), 2),
    val_accuracy: vals.every((v) => v !== null) ? statOfValues(vals as number[], 2) : { mean: null, ci95: null },
    reference_accuracy: pooledReference(fresh, lost),
    wall_seconds: statOfValues(perSeed.map((r) => r.wall_seconds), 1),
    selection_cost_share: statOf(pool(groupOf(fresh.selection_cost_share, fresh.seeds.length), groupOf(lost.selection_cost_share, lost.seeds.length)), 1),
    gradient_samples: statOfValues(perSeed.map((r) => r.gradient_samples), 0),
    time_to_95pct: pooledReached(fresh.time_to_95pct, lost.time_to_95pct),
    time_to_99pct: pooledReached(fresh.time_to_99pct, lost.time_to_99pct),
    delta_vs_none: fresh.delta_vs_none ?? lost.delta_vs_none,
    delta_vs_random: fresh.delta_vs_random ?? lost.delta_vs_random,
    delta_vs_random_equal_samples: pooledEqualSamples(fresh.delta_vs_random_equal_samples, lost.delta_vs_random_equal_samples),
    per_seed: perSeed,
  };
}

/** entry − control's test accuracy paired by seed (pp); without common seeds the difference of the means, no CI (as tables.ts compare). */
function deltaAgainst(entry: ResultEntry, control: ResultEntry): NonNullable<ResultEntry['delta_vs_none']> {
  const bySeed = new Map<number, SeedResult>(control.per_seed.map((r) => [r.seed, r]));
  const diffs = entry.per_seed.flatMap((r) => (bySeed.has(r.seed) ? [r.test_accuracy - bySeed.get(r.seed)!.test_accuracy] : []));
  if (diffs.length) return { ...statOfValues(diffs, 2), pairs: diffs.length, against: control.label };
  const a = entry.test_accuracy.mean;
  const b = control.test_accuracy.mean;
  return { mean: a === null || b === null ? null : round(a - b, 2), ci95: null, pairs: 0, against: control.label };
}

/** Where neither group named a control (its runs at hand had none): tables.ts's rule, `none` (that label first). */
function noneFor(e: ResultEntry, entries: readonly ResultEntry[]): ResultEntry | undefined {
  const nones = entries.filter((x) => x.dataset === e.dataset && x.method === 'none');
  return nones.find((x) => x.label === 'none') ?? nones[0];
}

/** …and random at the same filter ratio, selection mode and kind of budget (that label first). */
function randomFor(e: ResultEntry, entries: readonly ResultEntry[]): ResultEntry | undefined {
  const randoms = entries.filter((x) => x !== e && x.dataset === e.dataset && x.method === 'random' && x.filter_ratio === e.filter_ratio && x.selection_mode === e.selection_mode && x.budget === e.budget);
  return randoms.find((x) => x.label === 'random') ?? randoms[0];
}

const keyOf = (e: { dataset: string; label: string }): string => `${e.dataset}/${e.label}`;

/** A lost file's entry with every field today's results have; an older file's entry is an error naming it. */
function fullEntry(e: ReadResultEntry, path: string): ResultEntry {
  const r = resultEntrySchema.safeParse(e);
  if (!r.success) throw new InputError('io', `${path}: entry ${e.label} lacks fields today's results need (${r.error.issues[0]?.path.join('.')}); lost runs must come from a file written with per_seed`, { path });
  return r.data;
}

/** The results at hand with the lost runs of `lost` (read from `path`) added; see the module comment. */
export function mergeLostRuns(results: ResultsFile, lost: ReadResultsFile, path: string): ResultsFile {
  const fresh = new Map(results.entries.map((e) => [keyOf(e), e]));
  const merged = new Map<string, ResultEntry>();
  let lostRuns = 0;
  for (const raw of lost.entries) {
    const l = fullEntry(raw, path);
    const f = fresh.get(keyOf(l));
    const both = f ? l.seeds.filter((s) => f.seeds.includes(s)) : [];
    if (both.length) throw new InputError('io', `${path}: ${keyOf(l)} seed ${both[0]} is both a lost run and a run at hand; move one of them away`, { path });
    lostRuns += l.seeds.length;
    merged.set(keyOf(l), f ? mergeEntry(f, l) : l);
  }
  for (const f of results.entries) if (!merged.has(keyOf(f))) merged.set(keyOf(f), f);
  const entries = [...merged.values()];
  const byKey = new Map(entries.map((e) => [keyOf(e), e]));
  // Where neither side gained a seed at hand, the lost file's Δ stands (recomputing it from the rounded per_seed would move its last digit).
  const redo = (e: ResultEntry, d: ResultEntry['delta_vs_none'], rule: ResultEntry | undefined): ResultEntry['delta_vs_none'] => {
    const control = d ? byKey.get(`${e.dataset}/${d.against}`) : rule;
    if (!control) return null;
    return d && !fresh.has(keyOf(e)) && !fresh.has(keyOf(control)) ? d : deltaAgainst(e, control);
  };
  const withDeltas = entries.map((e) => ({
    ...e,
    delta_vs_none: e.method === 'none' ? e.delta_vs_none : redo(e, e.delta_vs_none, noneFor(e, entries)),
    delta_vs_random: e.method === 'random' || e.method === 'none' ? e.delta_vs_random : redo(e, e.delta_vs_random, randomFor(e, entries)),
  }));
  const finished = results.runs.finished + lostRuns;
  const planned = results.runs.planned;
  return resultsFileSchema.parse({ ...results, complete: finished === planned && planned > 0, runs: { planned, finished }, entries: withDeltas });
}

/** A lost runs' file cut to an experiment's cells, and those cells with their whole cost (what a wall budget reads). */
export interface LostRuns {
  file: ReadResultsFile;
  cells: Map<string, number>;
}

/**
 * The entries of `lost` (read from `path`) that the experiment plans (`planned`: cellKey of each
 * cell). An entry only partly planned is an error: its statistics cover all its seeds.
 */
export function lostRunsFor(lost: ReadResultsFile, planned: ReadonlySet<string>, path: string): LostRuns {
  const cells = new Map<string, number>();
  const entries: ReadResultEntry[] = [];
  for (const e of lost.entries) {
    if (!e.per_seed) throw new InputError('io', `${path}: entry ${e.label} has no per_seed (written before it existed); lost runs need each seed's values`, { path });
    const keys = e.per_seed.map((r) => [cellKey(e.dataset, e.label, r.seed), r.wall_seconds] as const);
    const inPlan = keys.filter(([k]) => planned.has(k));
    if (!inPlan.length) continue;
    if (inPlan.length < keys.length) throw new InputError('io', `${path}: entry ${e.label}'s seeds ${e.seeds.join(', ')} are only partly cells of this experiment (${keys.find(([k]) => !planned.has(k))![0]} is not), so its statistics cannot be used`, { path });
    for (const [k, wall] of keys) cells.set(k, wall);
    entries.push(e);
  }
  return { file: { ...lost, entries }, cells };
}

/**
 * Standard training's mean final test accuracy (a fraction) over its lost seeds and its runs at
 * hand: the `none` entry trained for its epochs (that label first), what time to 95% / 99% aims
 * at. null when the lost file has no such entry (the runs at hand then give it, as without lost runs).
 */
export function standardAccuracyWithLost(lost: ReadResultsFile, runs: readonly RunRecord[]): number | null {
  const nones = lost.entries.filter((e) => e.method === 'none' && e.budget === 'epochs' && e.per_seed);
  const none = nones.find((e) => e.label === 'none') ?? nones[0];
  if (!none) return null;
  const here = runs.filter((r) => r.label === none.label && r.dataset === none.dataset && r.summary).map((r) => 100 * r.summary!.test_accuracy);
  const all = [...none.per_seed!.map((r) => r.test_accuracy), ...here];
  return all.reduce((a, b) => a + b, 0) / all.length / 100;
}
