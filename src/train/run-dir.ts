/**
 * The run directory: its one owner. Every file name and layout is defined here (the checkpoint
 * and selection-example formats in checkpoint.ts and examples.ts, which only this module names);
 * writers (RunDirWriter, a fit callback) and readers (RunDir) go through it.
 *
 *   config.json                     TrainConfig + format_version (records.ts)
 *   metrics.jsonl                   one EpochMetrics row per epoch, rewritten after each checkpoint
 *   summary.json                    Summary, when the run is finished
 *   checkpoint.safetensors          weights, momentum and the loop's state, replaced after every epoch
 *   selections.jsonl                with saveSelections: the ids each batch kept, appended per epoch
 *   selection_examples.safetensors  feature-based selectors: two recorded batches (examples.ts)
 *   train_ids.json                  the ids the run trains on
 *   run.lock                        while a process trains it: that process's PID and host
 *   reference/                      a --reference-holdout run's reference (itself a run directory)
 *
 * Reads validate with the zod schemas of records.ts; a bad file is a RunDirError naming it (and
 * the line, in metrics.jsonl). Runs written before format_version 2 still read.
 */
import { appendFileSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { firstSchemaIssue } from '../schema-issues.js';
import { cleanStaleTemps, writeFileAtomic } from '../io/atomic.js';
import { readRegularText } from '../io/files.js';
import { loadSafetensors } from '../io/safetensors.js';
import type { SGD } from '../optim/sgd.js';
import type { Tensor } from '../tensor/index.js';
import type { BatchKeptInfo, CheckpointInfo, FitCallback } from './callbacks.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointState } from './checkpoint.js';
import { readSelectionExamples, writeSelectionExamples, type RecordedExamples, type SelectionExample } from './examples.js';
import type { Learner } from './models.js';
import { LEGACY_SPEC_DEFAULTS } from './options.js';
import {
  epochMetricsSchema, RUN_DIR_VERSION, summarySchema, trainConfigSchema,
  withCumulative, type EpochMetrics, type Summary, type TrainConfig,
} from './records.js';

export const RUN_FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  summary: 'summary.json',
  checkpoint: 'checkpoint.safetensors',
  selections: 'selections.jsonl',
  examples: 'selection_examples.safetensors',
  trainIds: 'train_ids.json',
  /** A reference run's weights at its epoch of lowest validation loss (metadata: epoch, val_loss, test_accuracy). */
  bestModel: 'best_model.safetensors',
  lock: 'run.lock',
} as const;
export type RunFile = keyof typeof RUN_FILES;

/** config.json's `extra` field that holds the run spec (the name the first runs gave it). */
export const SPEC_FIELD = 'cli';
/** config.json's `extra` field naming an experiment's dataset entry (its identity in reports). */
export const DATASET_LABEL_FIELD = 'dataset_label';

/** The folder a --reference-holdout run keeps its reference in, inside the run directory. */
export const REFERENCE_SUBDIR = 'reference';

/** A run directory (or one of its files) that cannot be used: exit code 2 in the CLI. */
export class RunDirError extends InputError {
  declare readonly path: string;
  constructor(message: string, path: string, where: { line?: number; field?: string } = {}) {
    super('run-dir', message, { path, ...where });
  }
}

/** Where a run stands: nothing trained, interrupted (a checkpoint, no summary), or finished. */
export type RunStatus = 'new' | 'interrupted' | 'done';

/** A run file as text; never blocks on a FIFO nor reads a device (io/files.ts). */
function readText(path: string): string {
  try {
    return readRegularText(path);
  } catch (e) {
    if (e instanceof InputError) throw new RunDirError((e as Error).message, path);
    throw new RunDirError(`cannot read ${path}: ${(e as Error).message}`, path);
  }
}

function parseJson(text: string, path: string, line?: number): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const where = line === undefined ? path : `${path}, line ${line}`;
    throw new RunDirError(`${where}: not valid JSON (${(e as Error).message})`, path, { line });
  }
}

/** v against a schema; the error names the file (and line) and the first bad field. */
function check<T extends z.ZodType>(schema: T, v: unknown, path: string, what: string, line?: number): z.output<T> {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  const { field, text } = firstSchemaIssue(r.error);
  const where = line === undefined ? path : `${path}, line ${line}`;
  throw new RunDirError(`${where}: not ${what} (${text})`, path, { line, field: field || undefined });
}

/** Read access to a run directory. `open` requires config.json; `at` does not (a folder being written). */
export class RunDir {
  readonly path: string;
  private configCache: TrainConfig | null = null;

  private constructor(dir: string) {
    this.path = resolve(dir);
  }

  /** A run directory that must already hold config.json. */
  static open(dir: string): RunDir {
    const r = new RunDir(dir);
    if (!existsSync(r.file('config'))) throw new RunDirError(`${r.path} is not a run directory (no ${RUN_FILES.config})`, r.path);
    return r;
  }

  /** Any folder, as a run directory to be (nothing is checked). */
  static at(dir: string): RunDir {
    return new RunDir(dir);
  }

  /** Whether dir holds a run (config.json). */
  static exists(dir: string): boolean {
    return existsSync(join(dir, RUN_FILES.config));
  }

  file(f: RunFile): string {
    return join(this.path, RUN_FILES[f]);
  }

  has(f: RunFile): boolean {
    return existsSync(this.file(f));
  }

  status(): RunStatus {
    if (this.has('summary')) return 'done';
    return this.has('checkpoint') ? 'interrupted' : 'new';
  }

  config(): TrainConfig {
    if (this.configCache) return this.configCache;
    const p = this.file('config');
    const raw = check(trainConfigSchema, parseJson(readText(p), p), p, 'a saln train config');
    const { format_version: _v, ...cfg } = raw as typeof raw & { format_version?: number };
    this.configCache = cfg as unknown as TrainConfig;
    return this.configCache;
  }

  /** The run spec it was started with (null: not started by runTraining, e.g. the library's train()). */
  spec(): Record<string, unknown> | null {
    const v = this.config().extra?.[SPEC_FIELD];
    return v && typeof v === 'object' && !Array.isArray(v) ? { ...LEGACY_SPEC_DEFAULTS, ...(v as Record<string, unknown>) } : null;
  }

  /** The dataset's name in reports: an experiment's label for its entry, else the spec's dataset, else 'unknown'. */
  datasetLabel(): string {
    const label = this.config().extra?.[DATASET_LABEL_FIELD];
    if (typeof label === 'string') return label;
    const d = this.spec()?.dataset;
    return typeof d === 'string' ? d : 'unknown';
  }

  /** Per-epoch metrics (empty when there is no file yet); rows of version-1 runs get `cumulative`. */
  metrics(): EpochMetrics[] {
    const p = this.file('metrics');
    if (!existsSync(p)) return [];
    const rows: EpochMetrics[] = [];
    readText(p).split('\n').forEach((text, i) => {
      if (text.trim() === '') return;
      const row = check(epochMetricsSchema, parseJson(text, p, i + 1), p, "an epoch's metrics", i + 1);
      rows.push(row as unknown as EpochMetrics);
    });
    return withCumulative(rows);
  }

  summary(): Summary | null {
    const p = this.file('summary');
    if (!existsSync(p)) return null;
    const s = check(summarySchema, parseJson(readText(p), p), p, 'a run summary');
    return { ...s, epochs_done: s.epochs_done ?? s.epochs, batch_size: s.batch_size ?? this.config().batchSize } as unknown as Summary;
  }

  trainIds(): string[] | null {
    const p = this.file('trainIds');
    if (!existsSync(p)) return null;
    const v = parseJson(readText(p), p);
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new RunDirError(`${p}: expected a JSON array of sample ids`, p);
    return v as string[];
  }

  /** The recorded selection batches, or null when the run has none (caller disposes the features). */
  examples(o: { maxBatches?: number } = {}): RecordedExamples | null {
    return this.has('examples') ? readSelectionExamples(this.file('examples'), o) : null;
  }

  /** The checkpoint's model tensors by state-dict key, or null without a checkpoint (caller disposes). */
  weights(): { path: string; tensors: Map<string, Tensor> } | null {
    const p = this.file('checkpoint');
    if (!existsSync(p)) return null;
    const f = loadSafetensors(p);
    const tensors = new Map<string, Tensor>();
    for (const [k, t] of f.tensors) {
      if (k.startsWith('model.')) tensors.set(k.slice('model.'.length), t);
      else t.dispose();
    }
    return { path: p, tensors };
  }

  /** Loads the checkpoint into model and optimizer; returns the loop's saved state. */
  checkpoint(model: Learner, optimizer: SGD): CheckpointState {
    return loadCheckpoint(this.file('checkpoint'), model, optimizer);
  }

  /**
   * Takes the run's lock (run.lock: PID and host), so two processes never train one directory.
   * A lock whose process is gone (same host, PID not alive) is stale and taken over. Returns the
   * release function; the caller releases in a finally.
   */
  lock(): () => void {
    mkdirSync(this.path, { recursive: true });
    const p = this.file('lock');
    const me = JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(p, me, { flag: 'wx' });
        return () => rmSync(p, { force: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new RunDirError(`cannot create the lock ${p}: ${(e as Error).message}`, p);
        const holder = readLock(p);
        if (holder && !isStale(holder)) {
          throw new RunDirError(`${this.path} is being trained by process ${holder.pid} on ${holder.host} (since ${holder.started}); wait for it to finish, or delete ${p} if that process is gone`, p);
        }
        rmSync(p, { force: true }); // stale (or unreadable): the process that wrote it is gone
      }
    }
    throw new RunDirError(`cannot take the lock ${p}: another process keeps taking it`, p);
  }

  /** Deletes what killed atomic writes left behind (temporaries of processes gone); returns the names removed. */
  removeTemporaryFiles(): string[] {
    return cleanStaleTemps(this.path);
  }

  /** Deletes the run's own files (not the folder, nor anything else in it), for --overwrite. */
  removeRun(): void {
    for (const f of Object.keys(RUN_FILES) as RunFile[]) if (f !== 'lock') rmSync(this.file(f), { force: true });
  }

  /** The reference run a --reference-holdout run keeps inside it. */
  referenceDir(): string {
    return join(this.path, REFERENCE_SUBDIR);
  }
}

interface LockHolder {
  pid: number;
  host: string;
  started: string;
}

function readLock(path: string): LockHolder | null {
  try {
    const v = JSON.parse(readRegularText(path, { maxBytes: 1 << 16 })) as Partial<LockHolder>;
    return typeof v.pid === 'number' && typeof v.host === 'string' ? { pid: v.pid, host: v.host, started: String(v.started ?? 'unknown') } : null;
  } catch {
    return null;
  }
}

/** A lock is stale when its process, on this host, no longer exists. Another host's lock is never judged stale. */
function isStale(h: LockHolder): boolean {
  if (h.host !== hostname()) return false;
  if (h.pid === process.pid) return false;
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Records the ids a run trains on (train_ids.json), creating the folder. */
export function writeTrainIds(dir: string, ids: readonly string[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, RUN_FILES.trainIds), jsonBytes(ids, false));
}

function jsonBytes(v: unknown, pretty: boolean): Uint8Array[] {
  return [new TextEncoder().encode(pretty ? `${JSON.stringify(v, null, 2)}\n` : JSON.stringify(v))];
}

function linesBytes(rows: readonly unknown[]): Uint8Array[] {
  return [new TextEncoder().encode(rows.map((r) => `${JSON.stringify(r)}\n`).join(''))];
}

export interface RunDirWriterOptions {
  /** The method and feature source, recorded with the selection examples. */
  method: string;
  featureSource: string;
  saveSelections: boolean;
  /** The run's epochs: the last epoch's first batch is recorded as an example. */
  epochs: number;
}

/**
 * Writes a run directory as a fit callback: selections after each epoch (appended), the
 * selection examples of the first and last epoch, the checkpoint and metrics.jsonl, then the
 * summary. Every file but selections.jsonl is replaced atomically.
 */
export class RunDirWriter implements FitCallback {
  readonly dir: RunDir;
  private readonly o: RunDirWriterOptions;
  private selections: BatchKeptInfo[] = [];
  private example: SelectionExample | null = null;
  private metrics: readonly EpochMetrics[] | null = null;

  constructor(dir: string, o: RunDirWriterOptions) {
    this.dir = RunDir.at(dir);
    this.o = o;
  }

  /**
   * Prepares the folder: a fresh run writes config.json (and an empty selections.jsonl); a
   * resumed one drops the selections of epochs after its checkpoint (they belong to the
   * interrupted attempt). metrics.jsonl is written from the state either way.
   */
  begin(config: TrainConfig, state: CheckpointState, resumed: boolean): void {
    mkdirSync(this.dir.path, { recursive: true });
    if (resumed) this.truncateSelections(state.epochsDone);
    else {
      writeFileAtomic(this.dir.file('config'), jsonBytes({ format_version: RUN_DIR_VERSION, ...config }, true));
      if (this.o.saveSelections) writeFileAtomic(this.dir.file('selections'), []);
    }
    writeFileAtomic(this.dir.file('metrics'), linesBytes(state.metrics));
  }

  writeTrainIds(ids: readonly string[]): void {
    writeTrainIds(this.dir.path, ids);
  }

  onBatchKept(info: BatchKeptInfo): void {
    if (this.o.saveSelections) this.selections.push(info);
  }

  onSelectionExample(example: SelectionExample): void {
    this.example?.features.dispose();
    this.example = example;
  }

  onCheckpoint(info: CheckpointInfo): string {
    this.appendSelections();
    this.writeExample(info.epoch, info.state.stoppedBy !== undefined);
    const path = this.dir.file('checkpoint');
    saveCheckpoint(path, info.model, info.optimizer, info.state);
    this.metrics = info.state.metrics;
    return path;
  }

  /** metrics.jsonl after the checkpoint, so the epoch's row carries the checkpoint's own time. */
  onCheckpointSaved(): void {
    if (this.metrics) writeFileAtomic(this.dir.file('metrics'), linesBytes(this.metrics));
  }

  onTrainEnd(summary: Summary): void {
    writeFileAtomic(this.dir.file('summary'), jsonBytes(summary, true));
  }

  private appendSelections(): void {
    if (!this.selections.length) return;
    // One write per epoch: a kill can only cut the last line, which the next resume drops.
    appendFileSync(this.dir.file('selections'), this.selections.map((s) => `${JSON.stringify(s)}\n`).join(''));
    this.selections = [];
  }

  /** The first epoch's and the last epoch's first batch, written before the checkpoint so a resume keeps them. */
  private writeExample(epoch: number, stopped: boolean): void {
    const ex = this.example;
    this.example = null;
    if (!ex) return;
    try {
      if (epoch === 0 || epoch + 1 === this.o.epochs || stopped) {
        writeSelectionExamples(this.dir.file('examples'), [ex], { method: this.o.method, feature_source: this.o.featureSource });
      }
    } finally {
      ex.features.dispose();
    }
  }

  private truncateSelections(epochsDone: number): void {
    const p = this.dir.file('selections');
    if (!existsSync(p) || statSync(p).size === 0) return;
    const lines = readText(p).split('\n').filter((l) => l.trim() !== '');
    const keep = lines.flatMap((l, i) => {
      let r: { epoch: number };
      try {
        r = JSON.parse(l) as { epoch: number };
      } catch (e) {
        // Appends are one write per epoch: only the last line can be cut by a kill.
        if (i === lines.length - 1) return [];
        throw new RunDirError(`${p}, line ${i + 1}: not valid JSON (${(e as Error).message})`, p, { line: i + 1 });
      }
      return r.epoch < epochsDone ? [r] : [];
    });
    writeFileAtomic(p, linesBytes(keep));
  }
}
