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
