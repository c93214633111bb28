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

/**
 * Labels for runs read straight from their directories, where no experiment named them: the
 * method, and where one method's runs differ in filter ratio, selection mode or budget, those
 * too (`random-0.8-super-wall`), so that a report never averages two configurations in one row.
 */
export function configLabels(runs: readonly Pick<RunDirContents, 'method' | 'config'>[]): string[] {
  const variants = new Map<string, Set<string>>();
  const keys = runs.map((r) => {
    const key = variantOf(r.config);
    variants.set(r.method, (variants.get(r.method) ?? new Set()).add(key));
    return key;
  });
  return runs.map((r, i) => (variants.get(r.method)!.size > 1 ? `${r.method}-${keys[i]}` : r.method));
}

/** What tells a method's configurations apart in a label: ratio, super-batch, the budget's kind. */
function variantOf(c: TrainConfig): string {
  const parts = [String(c.filterRatio)];
  if (c.selectionMode === 'super-batch') parts.push('super');
  if (c.budget?.seconds !== undefined) parts.push('wall');
  if (c.budget?.gradientSamples !== undefined) parts.push('samples');
  return parts.join('-');
}
