/**
 * One training run as the registry stores it and the report reads it: the run directory's
 * config.json, metrics.jsonl and summary.json, plus how the experiment labelled it.
 * The registry (registry.ts) produces these; reports (src/reports) only consume them.
 */
import type { EpochMetrics, Summary, TrainConfig } from '../train/trainer.js';

export type RunStatus = 'complete' | 'incomplete';

export interface RunRecord {
  /** The registry's id (1, 2, …). */
  id: number;
  /** Absolute path of the run directory. */
  runDir: string;
  /** The experiment that made it (null: registered by hand). */
  experiment: string | null;
  /** The dataset name (config.extra.cli.dataset, e.g. 'cifar10'), or 'unknown'. */
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
