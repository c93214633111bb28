/**
 * Reads a run directory written by `saln train` (config.json, metrics.jsonl, summary.json) into
 * the parts of a RunRecord that come from disk. Every problem names the file (and line).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { EpochMetrics, Summary, TrainConfig } from '../train/trainer.js';
import type { RunRecord } from './run-record.js';

export type RunDirContents = Pick<RunRecord, 'runDir' | 'dataset' | 'method' | 'seed' | 'status' | 'config' | 'metrics' | 'summary'>;

export class RunDirError extends InputError {
  declare readonly path: string;
  constructor(message: string, path: string) {
    super('run-dir', message, { path });
  }
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RunDirError(`cannot read ${path}: ${(e as Error).message}`, path);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RunDirError(`${path} is not valid JSON: ${(e as Error).message}`, path);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Per-epoch metrics, one JSON object per line; a bad line is an error naming its number. */
export function readMetrics(path: string): EpochMetrics[] {
  if (!existsSync(path)) return [];
  const out: EpochMetrics[] = [];
  readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new RunDirError(`${path}, line ${i + 1}: not valid JSON (${(e as Error).message})`, path);
    }
    if (!isObject(v) || typeof v.epoch !== 'number') throw new RunDirError(`${path}, line ${i + 1}: expected an epoch's metrics object with a numeric "epoch"`, path);
    out.push(v as unknown as EpochMetrics);
  });
  return out;
}

/** The run directory's contents; throws RunDirError when it is not a run directory or a file is corrupt. */
export function readRunDir(dir: string): RunDirContents {
  const runDir = resolve(dir);
  const cfgPath = join(runDir, 'config.json');
  if (!existsSync(cfgPath)) throw new RunDirError(`${runDir} is not a run directory (no config.json)`, runDir);
  const cfg = readJson(cfgPath);
  if (!isObject(cfg) || typeof cfg.method !== 'string' || typeof cfg.seed !== 'number') {
    throw new RunDirError(`${cfgPath}: not a saln train config (expected "method" and "seed")`, cfgPath);
  }
  const config = cfg as unknown as TrainConfig;
  const summaryPath = join(runDir, 'summary.json');
  let summary: Summary | null = null;
  if (existsSync(summaryPath)) {
    const s = readJson(summaryPath);
    if (!isObject(s) || typeof s.test_accuracy !== 'number') throw new RunDirError(`${summaryPath}: not a run summary (expected a numeric "test_accuracy")`, summaryPath);
    summary = s as unknown as Summary;
  }
  const cli = isObject(config.extra) && isObject(config.extra.cli) ? config.extra.cli : null;
  const dataset = cli && typeof cli.dataset === 'string' ? cli.dataset : 'unknown';
  return {
    runDir, dataset, method: config.method, seed: config.seed, status: summary ? 'complete' : 'incomplete',
    config, metrics: readMetrics(join(runDir, 'metrics.jsonl')), summary,
  };
}
