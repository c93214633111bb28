/**
 * Results as data: a protocol's final table as one JSON file (`results/<protocol>.json`), the
 * numbers BENCHMARKS.md and the report quote. Built from the same rows as the report's tables.
 *
 *   {"protocol": "p-cifar-ft", "complete": true, "entries": [{"label": "saln-0.8-wall", "method": "saln",
 *     "selection_mode": "in-batch", "filter_ratio": 0.8, "budget": "wall", "seeds": [0, 1, 2, 3, 4],
 *     "test_accuracy": {"mean": 84.1, "ci95": 0.6}, "val_accuracy": {…}, "reference_accuracy": null, "wall_seconds": {…}, "selection_cost_share": {…}, "gradient_samples": {…},
 *     "time_to_95pct": {…}, "time_to_99pct": {…}, "delta_vs_none": {…}, "delta_vs_random": {…},
 *     "delta_vs_random_equal_samples": {…}}]}
 *
 * Units: accuracies in percent, deltas in percentage points (paired by seed), times in seconds.
 * Every cost is in the times: the run's wall clock (selection and scoring included, and the
 * reference's scoring pass when precomputed) plus the work done before it: for jest and rho-loss
 * the reference's training (config.json extra.reference_wall_seconds), for saln on cached
 * pretrained features their extraction (extra.feature_extraction_seconds; paid once per cache,
 * counted in every run as a user training once would pay it).
 * time_to_Xpct: wall seconds until the validation accuracy first reaches X% of standard
 * training's mean final test accuracy (the `none` entry with the epoch budget); a seed that never
 * reaches it is left out of the mean, `reached` counts the ones that did, and a target no seed
 * reached has mean and ci95 null.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { SecondsScale } from '../experiments/machines.js';
import type { RunRecord } from '../experiments/run-record.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readJsonFile } from '../io/json-file.js';
import { upfrontSeconds } from '../train/records.js';
import { lastEpoch, timeToTarget, validationSeries } from './series.js';
import { summarize, type Stat } from './stats.js';
import { budgetKind, buildTables, type Comparison, type EqualSamplesComparison, type Row } from './tables.js';

const stat = z.object({ mean: z.number().nullable(), ci95: z.number().nullable() });
const reachedStat = stat.extend({ reached: z.number().int().min(0), of: z.number().int().min(0) });
const delta = stat.extend({ pairs: z.number().int().min(0), against: z.string() });
/** Best validation accuracy within the smaller of the two entries' mean gradient samples (tables.ts compareAtSamples). */
const equalSamplesDelta = delta.extend({ gradient_samples: z.number().min(0) });
/** One seed's run: what a paired comparison between any two entries needs (pairEntries). */
const seedResult = z.object({ seed: z.number().int(), test_accuracy: z.number(), val_accuracy: z.number().nullable(), wall_seconds: z.number(), gradient_samples: z.number() });

export const resultEntrySchema = z.object({
  label: z.string(),
  dataset: z.string(),
  method: z.string(),
  selection_mode: z.enum(['in-batch', 'super-batch']),
  filter_ratio: z.number(),
  budget: z.enum(['epochs', 'wall']),
  /** The runs' precision and layout as resolved ('bf16+channels-last', 'fp32'); several joined by ',' when they differ. */
  precision: z.string(),
  /** Runs that shared their cores with other work (results.ts contended(): other processes' CPU above a quarter of the cores): their wall times are not comparable. */
  contended_runs: z.number().int().min(0),
  seeds: z.array(z.number().int()),
  test_accuracy: stat,
  /** The final epoch's validation accuracy: what a choice between entries (a recipe, a hyperparameter) may read; test may not. */
  val_accuracy: stat,
  /** jest / rho-loss: their reference model's own test accuracy; weak when its 95% CI reaches chance (1 / classes). */
  reference_accuracy: stat.extend({ chance: z.number().nullable(), weak: z.boolean() }).nullable(),
  wall_seconds: stat,
  /** Percent of each run's cost (wall seconds plus up-front work) spent choosing samples: scoring, selection, reference training, feature extraction. */
  selection_cost_share: stat,
  gradient_samples: stat,
  time_to_95pct: reachedStat.nullable(),
  time_to_99pct: reachedStat.nullable(),
  delta_vs_none: delta.nullable(),
  delta_vs_random: delta.nullable(),
  /** Against random at an equal number of gradient samples (validation accuracy, pp): the fair control of a method that trains on more or fewer samples than its ratio's random (InfoBatch). */
  delta_vs_random_equal_samples: equalSamplesDelta.nullable(),
  /** Each seed's run (accuracies in percent, wall seconds with every cost), in seed order. */
  per_seed: z.array(seedResult),
}).strict();

export const resultsFileSchema = z.object({
  protocol: z.string().min(1),
  complete: z.boolean(),
  /** Runs planned and finished, so a partial file says how partial it is. */
  runs: z.object({ planned: z.number().int(), finished: z.number().int() }),
  entries: z.array(resultEntrySchema),
}).strict();

export type ResultEntry = z.infer<typeof resultEntrySchema>;
export type ResultsFile = z.infer<typeof resultsFileSchema>;

/** Fields added after the first results files were committed: a file without them still reads. */
const readEntrySchema = resultEntrySchema.partial({ contended_runs: true, selection_cost_share: true, delta_vs_random_equal_samples: true, val_accuracy: true, reference_accuracy: true, per_seed: true });
const readFileSchema = resultsFileSchema.extend({ entries: z.array(readEntrySchema) });
/** An entry as read back from any results file (older ones lack the later fields). */
export type ReadResultEntry = z.infer<typeof readEntrySchema>;
export type ReadResultsFile = z.infer<typeof readFileSchema>;

/** v to `digits` decimals; null (and a non-finite v) stays null. */
export const round = (v: number | null, digits: number): number | null => (v === null || !Number.isFinite(v) ? null : Number(v.toFixed(digits)));
const pct = (s: Stat): z.infer<typeof stat> => ({ mean: round(100 * s.mean, 2), ci95: s.half === null ? null : round(100 * s.half, 2) });
/** A stat as the file holds it, to `digits` decimals (no CI from one value). */
export const plain = (s: Stat, digits = 1): z.infer<typeof stat> => ({ mean: round(s.mean, digits), ci95: s.half === null ? null : round(s.half, digits) });
const deltaOf = (c: Comparison | null): ResultEntry['delta_vs_none'] => (c ? { ...pct(c.testAccuracy), pairs: c.pairs, against: c.against } : null);

/** A finished run's whole cost in seconds: its wall clock and the work before it (upfrontSeconds). */
function costSeconds(r: RunRecord): number {
  return r.summary!.wall_seconds + upfrontSeconds(r.config);
}

/** The percent of a run's whole cost (its wall seconds and up-front work) that went into choosing samples. */
function selectionCostShare(r: RunRecord): number {
  const s = r.summary!;
  const total = costSeconds(r);
  return total > 0 ? (100 * (s.phases.scoring + s.phases.selection + upfrontSeconds(r.config))) / total : 0;
}

/** buildResults' secondsScale without a machines file: every run's seconds as they are. */
const unscaled: SecondsScale = () => 1;

/** Wall seconds (reference training included) until each seed's validation accuracy reaches target. */
function timeTo(row: Row, target: number | null, scale: SecondsScale): ResultEntry['time_to_95pct'] {
  if (target === null) return null;
  const times = row.runs.map((r) => {
    const t = timeToTarget(validationSeries(r.metrics), target);
    return t === null ? null : (t + upfrontSeconds(r.config)) * scale(r);
  }).filter((t): t is number => t !== null);
  return { ...plain(summarize(times)), reached: times.length, of: row.runs.length };
}

/** 'fp32', 'bf16+channels-last', …: what a run computed in (runs before the setting: fp32, contiguous). */
export function precisionOf(c: RunRecord['config']): string {
  return `${c.precision ?? 'fp32'}${(c.memoryFormat ?? 'contiguous') === 'channels-last' ? '+channels-last' : ''}`;
}

/**
 * Whether other work shared the run's cores: other processes (and a hypervisor's other guests)
 * took more than a quarter of the machine's cores on average over the run (other_cpu, from the
 * machine's CPU time; machine-cpu.ts). Runs recorded before it: a mean 1-minute load above 1.25×
 * the cores (a rougher sign: a run's own threads waiting on disk count too), else their start or
 * end; before any record: unknown, false.
 */
export function contended(r: RunRecord): boolean {
  const l = r.summary?.load_average;
  if (l === undefined) return false;
  if (l.other_cpu !== undefined) return l.other_cpu > 0.25 * l.cores;
  return (l.mean ?? Math.max(l.start, l.end)) > 1.25 * l.cores;
}

function equalSamplesOf(c: EqualSamplesComparison | null): ResultEntry['delta_vs_random_equal_samples'] {
  return c ? { ...pct(c.valAccuracy), pairs: c.pairs, against: c.against, gradient_samples: Math.round(c.gradientSamples) } : null;
}

function entryOf(row: Row, standard: number | null, scale: SecondsScale): ResultEntry {
  const first = row.runs[0]!;
  const wall = summarize(row.runs.map((r) => costSeconds(r) * scale(r)));
  return {
    label: row.label, dataset: row.dataset, method: row.methods.join('+'),
    selection_mode: first.config.selectionMode ?? 'in-batch', filter_ratio: first.config.filterRatio,
    budget: budgetKind(first.config),
    precision: [...new Set(row.runs.map((r) => precisionOf(r.config)))].sort().join(','),
    contended_runs: row.runs.filter(contended).length,
    seeds: row.seeds, test_accuracy: pct(row.testAccuracy), val_accuracy: pct(row.valAccuracy),
    reference_accuracy: row.reference ? { ...pct(row.reference.accuracy), chance: row.reference.chance === null ? null : round(100 * row.reference.chance, 2), weak: row.reference.weak } : null,
    wall_seconds: plain(wall),
    selection_cost_share: plain(summarize(row.runs.map(selectionCostShare))), gradient_samples: plain(row.gradientSamples, 0),
    time_to_95pct: timeTo(row, standard === null ? null : 0.95 * standard, scale),
    time_to_99pct: timeTo(row, standard === null ? null : 0.99 * standard, scale),
    delta_vs_none: deltaOf(row.vsNone), delta_vs_random: deltaOf(row.vsRandom),
    delta_vs_random_equal_samples: equalSamplesOf(row.vsRandomAtSamples),
    per_seed: row.runs.map((r) => seedResultOf(r, scale)).sort((a, b) => a.seed - b.seed),
  };
}

function seedResultOf(r: RunRecord, scale: SecondsScale): z.infer<typeof seedResult> {
  const s = r.summary!;
  const val = lastEpoch(r.metrics)?.val_accuracy;
  return {
    seed: r.seed, test_accuracy: round(100 * s.test_accuracy, 2)!, val_accuracy: typeof val === 'number' ? round(100 * val, 2) : null,
    wall_seconds: round(costSeconds(r) * scale(r), 1)!, gradient_samples: s.counts.gradient_samples,
  };
}

/** Entry a against entry b over the seeds both ran: test accuracy a − b (pp, paired), and each side's mean wall seconds there. */
export interface PairedEntries {
  a: string;
  b: string;
  seeds: number[];
  test_accuracy: z.infer<typeof stat>;
  /** null when a seed of either side has no validation accuracy. */
  val_accuracy: z.infer<typeof stat> | null;
  wall_seconds: { a: number | null; b: number | null };
}

/** Pairs two entries of one results file by seed (any two: saln against jest, an entry against another budget's). */
export function pairEntries(a: ReadResultEntry, b: ReadResultEntry): PairedEntries {
  if (!a.per_seed || !b.per_seed) throw new Error(`${a.per_seed ? b.label : a.label}: the file has no per-seed results (written before they existed); rewrite it with \`saln experiment CONFIG --results-only\``);
  const other = new Map(b.per_seed.map((r) => [r.seed, r]));
  const pairs = a.per_seed.flatMap((r) => (other.has(r.seed) ? [[r, other.get(r.seed)!] as const] : []));
  const diff = (f: (x: z.infer<typeof seedResult>) => number | null): z.infer<typeof stat> | null => {
    const d = pairs.map(([x, y]) => [f(x), f(y)] as const);
    if (!d.length || d.some(([x, y]) => x === null || y === null)) return null;
    return plain(summarize(d.map(([x, y]) => x! - y!)), 2);
  };
  const meanOf = (xs: number[]): number | null => (xs.length ? round(summarize(xs).mean, 1) : null);
  return {
    a: a.label, b: b.label, seeds: pairs.map(([x]) => x.seed),
    test_accuracy: diff((x) => x.test_accuracy) ?? { mean: null, ci95: null },
    val_accuracy: diff((x) => x.val_accuracy),
    wall_seconds: { a: meanOf(pairs.map(([x]) => x.wall_seconds)), b: meanOf(pairs.map(([, y]) => y.wall_seconds)) },
  };
}

/** Standard training's mean final test accuracy: the `none` row trained for its epochs (no budget). */
function standardAccuracy(rows: readonly Row[]): number | null {
  const none = rows.find((r) => r.methods.length === 1 && r.methods[0] === 'none' && r.runs.every((x) => budgetKind(x.config) === 'epochs'));
  return none && Number.isFinite(none.testAccuracy.mean) ? none.testAccuracy.mean : null;
}

/**
 * The protocol's results from its runs; complete when every planned run has finished.
 * standardAccuracy (a fraction): standard training's mean final test accuracy, given where its
 * runs are not all among `runs` (lost runs: lost-runs.ts); secondsScale: where runs trained on
 * several machines.
 */
export function buildResults(protocol: string, runs: readonly RunRecord[], planned: number, o: { standardAccuracy?: number; secondsScale?: SecondsScale } = {}): ResultsFile {
  const tables = buildTables(runs);
  const scale = o.secondsScale ?? unscaled;
  const entries = tables.datasets.flatMap((d) => d.rows.map((row) => entryOf(row, o.standardAccuracy ?? standardAccuracy(d.rows), scale)));
  const finished = runs.filter((r) => r.status === 'complete' && r.summary !== null).length;
  return resultsFileSchema.parse({ protocol, complete: finished === planned && planned > 0, runs: { planned, finished }, entries });
}

/** Writes the file atomically (2-space JSON, one trailing newline). */
export function writeResults(path: string, results: ResultsFile): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, [new TextEncoder().encode(`${JSON.stringify(resultsFileSchema.parse(results), null, 2)}\n`)]);
}

/** A results file read back and checked; a bad one is an InputError naming the file and the first bad field. */
export function readResults(path: string): ReadResultsFile {
  return readJsonFile(path, readFileSchema, 'a saln results file');
}
