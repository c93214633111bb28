/**
 * One training run as the registry stores it and the report reads it: the run directory's
 * config, metrics and summary (read through RunDir), plus how the experiment labelled it.
 * The registry (registry.ts) produces these; reports (src/reports) only consume them.
 */
import type { EpochMetrics, Summary, TrainConfig } from '../train/records.js';
import { RunDir } from '../train/run-dir.js';

export type RunStatus = 'complete' | 'incomplete';

export interface RunRecord {
  /** The registry's id (1, 2, …). */
  id: number;
  /** Absolute path of the run directory. */
  runDir: string;
  /** The experiment that made it (null: registered by hand). */
  experiment: string | null;
  /** The dataset's name: the experiment's label for its entry, else the spec's dataset (e.g. 'cifar10'), else 'unknown'. */
  dataset: string;
  /** How reports group runs: the experiment's label for the method (default: the method). */
  label: string;
  method: string;
  seed: number;
  /** 'complete' when summary.json exists. */
  status: RunStatus;
  config: TrainConfig;
  metrics: EpochMetrics[];
  summary: Summary | null;
  /** ISO 8601 times of the first and latest registration. */
  createdAt: string;
  updatedAt: string;
}

/** What a run directory says of a run (the rest of a RunRecord is the registry's). */
export type RunDirContents = Pick<RunRecord, 'runDir' | 'dataset' | 'method' | 'seed' | 'status' | 'config' | 'metrics' | 'summary'>;

/** Reads a run directory through its owner (RunDir); a bad file is a RunDirError naming it. */
export function readRunDir(dir: string): RunDirContents {
  const run = RunDir.open(dir);
  const config = run.config();
  const summary = run.summary();
  return {
    runDir: run.path, dataset: run.datasetLabel(), method: config.method, seed: config.seed,
    status: summary ? 'complete' : 'incomplete', config, metrics: run.metrics(), summary,
  };
}

/** A grid cell's identity across machines: dataset entry, label and seed. */
export function cellKey(dataset: string, label: string, seed: number): string {
  return `${dataset}/${label}/seed-${seed}`;
}

/** Records for run directories reported without a registry: ids 1..n in order, the method as label. */
export function recordsFromDirs(dirs: readonly string[], now: string): RunRecord[] {
  return dirs.map((d, i) => {
    const c = readRunDir(d);
    return { ...c, id: i + 1, experiment: null, label: c.method, createdAt: now, updatedAt: now };
  });
}

/**
 * Runs labelled only by their method (run directories, runs registered without a label): where
 * one method's such runs differ in filter ratio, selection mode or budget, each gets those added
 * (`random-0.8-super-wall`), so that a report never averages two configurations in one row. An
 * experiment's own labels stay.
 */
export function withConfigLabels(runs: readonly RunRecord[]): RunRecord[] {
  const variants = new Map<string, Set<string>>();
  const keys = runs.map((r) => {
    if (r.label !== r.method) return null;
    const key = variantOf(r.config);
    variants.set(r.method, (variants.get(r.method) ?? new Set()).add(key));
    return key;
  });
  return runs.map((r, i) => (keys[i] !== null && variants.get(r.method)!.size > 1 ? { ...r, label: `${r.method}-${keys[i]}` } : r));
}

/** What tells a method's configurations apart in a label: ratio, super-batch, the budget's kind. */
function variantOf(c: TrainConfig): string {
  const parts = [String(c.filterRatio)];
  if (c.selectionMode === 'super-batch') parts.push('super');
  if (c.budget?.seconds !== undefined) parts.push('wall');
  if (c.budget?.gradientSamples !== undefined) parts.push('samples');
  return parts.join('-');
}
