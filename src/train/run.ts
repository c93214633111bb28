/**
 * runTraining(spec, …): from a validated run spec to a finished run: data (prepared cache,
 * class-balanced limits, the reference holdout, loaders), features for saln (a given cache file,
 * or extracted now into the feature cache), the reference for jest and rho-loss, then train().
 * It prints nothing: the caller passes log/warn sinks and the loop's callbacks.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { cacheDir as defaultCacheDir } from '../cache-dir.js';
import { setNumThreads } from '../tensor/index.js';
import type { FeatureCache } from '../features/index.js';
import type { FitCallback } from './callbacks.js';
import type { Learner } from './models.js';
import { parseMilestones, type RunSpec } from './options.js';
import { MACHINE_FIELD, upfrontSeconds, type Summary, type TrainConfig } from './records.js';
import { machineName } from './machine-cpu.js';
import { buildRunData, type RunData } from './run-data.js';
import { extractionSeconds, trainFeatures } from './run-features.js';
import { loadReference, makeLearner, trainHoldoutReference } from './reference.js';
import { RunDir, REFERENCE_SUBDIR, DATASET_LABEL_FIELD, RUN_FILES, SPEC_FIELD, writeTrainIds } from './run-dir.js';
import { FEATURE_METHODS, REFERENCE_METHODS } from './selectors/index.js';
import { train } from './train.js';
import { resolveCompute, type Compute, type ResolvedCompute } from './compute.js';
import { initProcessGroup, readTorchrunEnv } from '../dist/index.js';
import { isRoot, type TrainDist } from './distributed.js';

/** config.json's extra field holding the processes a run was trained by (absent: 1). */
const WORLD_SIZE_FIELD = 'world_size';
/** config.json's extra field saying why the run computes in its precision and layout. */
const COMPUTE_REASON_FIELD = 'compute_reason';
/** config.json's extra field with what extracting saln's cached features took (results count it as the run's cost). */
const FEATURE_SECONDS_FIELD = 'feature_extraction_seconds';
/** A wall budget's seconds as asked (the whole run), and the up-front seconds taken off the training clock's. */
const BUDGET_ASKED_FIELD = 'budget_seconds_asked';
const BUDGET_UPFRONT_FIELD = 'budget_upfront_seconds';

export interface RunTrainingOptions {
  /** Continue the run in spec.out from its checkpoint. */
  resume: boolean;
  /** Replace a run already in spec.out (otherwise that is an error). */
  overwrite?: boolean;
  cacheDir?: string;
  /** Progress bars for feature extraction (the loop's own bar is a callback). */
  progress: boolean;
  /** Observers of the learner's loop (progress bar, logs); with several processes, rank 0's only. */
  callbacks?: readonly FitCallback[];
  /** Observers every rank of a data-parallel job runs (the CLI's test hooks); default none. */
  everyRankCallbacks?: readonly FitCallback[];
  /** Observers of a --reference-holdout reference's loop. */
  referenceCallbacks?: readonly FitCallback[];
  /** An experiment's name for the dataset entry (its identity in the registry and reports). */
  datasetLabel?: string;
  log(text: string): void;
  warn(text: string): void;
}

/** A run whose train loss went NaN or infinite: it stopped there (its summary says so); not bad input (exit 1). */
export class DivergedError extends Error {
  readonly epoch: number;
  readonly step: number;
  readonly runDir: string;
  constructor(runDir: string, at: { epoch: number; step: number }) {
    super(`${runDir}: the training loss became NaN or infinite at epoch ${at.epoch}, step ${at.step}; the run stopped there (${RUN_FILES.summary}: stopped_by "non-finite loss"). A lower learning rate usually helps`);
    this.name = 'DivergedError';
    this.epoch = at.epoch;
    this.step = at.step;
    this.runDir = runDir;
  }
}

interface Reference {
  model?: Learner;
  note?: string;
  extra: Record<string, unknown>;
}

/**
 * Trains (or resumes) the run the spec describes; the summary, or null if it stopped early.
 * Started as one rank of several (saln launch: WORLD_SIZE > 1), it joins the process group and
 * trains its share; only rank 0 claims and writes the run directory.
 */
export async function runTraining(spec: RunSpec, o: RunTrainingOptions): Promise<Summary | null> {
  // One thread policy (the engine's: OMP_NUM_THREADS, else every core) unless the spec says otherwise.
  if (spec.threads !== undefined) setNumThreads(spec.threads);
  const out = spec.out!;
  const worldSize = readTorchrunEnv().worldSize ?? 1;
  // A resumed run's config.json, read once: its world size and compute settings carry over.
  const saved = o.resume ? RunDir.open(out).config() : undefined;
  if (saved) checkResumeWorldSize(out, saved, worldSize);
  if (worldSize > 1) checkDistributable(spec);
  const compute = resolveCompute(spec, saved);
  const dist = worldSize > 1 ? await joinJob(spec) : undefined;
  const release = isRoot(dist) ? claimRunDir(out, o) : () => {};
  try {
    if (isRoot(dist)) o.log(`computing in ${compute.reason}`);
    return await trainIn(spec, out, o, compute, dist);
  } finally {
    release();
    dist?.group.destroy();
  }
}

async function joinJob(spec: RunSpec): Promise<TrainDist> {
  const group = await initProcessGroup();
  return { group, scope: spec.selectionScope };
}

/** What several processes cannot do (yet): bad input, before any work. */
function checkDistributable(spec: RunSpec): void {
  const refuse = (field: string, why: string): never => {
    throw new InputError('config', `${field}: ${why}`, { field });
  };
  if (spec.device !== 'cpu') refuse('device', 'several processes train on the CPU only (Gloo) for now; use --device cpu or one process');
  if (spec.method === 'infobatch') refuse('method', 'infobatch keeps per-sample state that several processes do not share yet; use one process');
  if (spec.referenceHoldout !== undefined) refuse('referenceHoldout', 'train the reference in one process first, then pass it with --reference RUN_DIR');
}

/** A run resumes with the world size it was trained with (its data shares and batches depend on it). */
function checkResumeWorldSize(out: string, config: TrainConfig, worldSize: number): void {
  const trainedBy = Number(config.extra?.[WORLD_SIZE_FIELD] ?? 1);
  if (trainedBy !== worldSize) {
    throw new InputError('run-dir', `resume: ${out} was trained by ${trainedBy} process(es); resume it with the same number (saln train --resume ${out} --nproc ${trainedBy}), not ${worldSize}`, { field: 'resume', path: out });
  }
}

/**
 * Locks the run directory and checks that it may be trained: a new run needs an empty place
 * (or overwrite), a resume needs a run. Leftovers of killed writes are removed.
 */
function claimRunDir(out: string, o: RunTrainingOptions): () => void {
  if (existsSync(out) && !statSync(out).isDirectory()) throw new InputError('config', `out: ${out} is a file, not a run directory`, { field: 'out', path: out });
  const run = RunDir.at(out);
  const release = run.lock();
  try {
    const removed = run.removeTemporaryFiles();
    if (removed.length) o.warn(`${out}: removed ${removed.length} temporary file(s) a killed write left behind (${removed.join(', ')})`);
    if (!o.resume && RunDir.exists(out)) {
      if (!o.overwrite) throw new InputError('run-dir', `out: ${out} already holds a run (${RUN_FILES.config}); resume it, overwrite it, or choose another folder`, { field: 'out', path: out });
      o.warn(`${out}: overwriting the run that was there`);
      run.removeRun();
    }
    return release;
  } catch (e) {
    release();
    throw e;
  }
}

async function trainIn(spec: RunSpec, out: string, o: RunTrainingOptions, compute: ResolvedCompute, dist: TrainDist | undefined): Promise<Summary | null> {
  const shard = dist ? { rank: dist.group.rank, worldSize: dist.group.worldSize } : undefined;
  const data = await buildRunData(spec, { preparedDir: join(defaultCacheDir(o.cacheDir), 'prepared'), warn: o.warn, shard, memoryFormat: compute.memoryFormat });
  let features: FeatureCache | null = null;
  try {
    if (FEATURE_METHODS.includes(spec.method) && spec.featureSource === 'cache') {
      features = await trainFeatures(spec, data.kind, data.learnerSet, { cacheDir: o.cacheDir, progress: o.progress && isRoot(dist), log: o.log, precision: compute.precision }, dist?.group);
      const f = features;
      data.loaders.featureLookup = (ids) => f.lookup(ids);
    }
    const ref = await reference(spec, data, o, compute);
    if (!o.resume && isRoot(dist)) writeTrainIds(out, data.learnerSet.ids);
    let config = trainConfig(spec, data, ref, o, compute, dist);
    if (features) config.extra = { ...config.extra, [FEATURE_SECONDS_FIELD]: extractionSeconds(features) };
    config = upfrontOffBudget(config, o.log);
    const { summary } = await train({
      config, data: data.loaders, runDir: out, resume: o.resume, reference: ref.model, callbacks: [...(isRoot(dist) ? o.callbacks ?? [] : []), ...(o.everyRankCallbacks ?? [])],
      learner: await makeLearner(spec.model, data.loaders.numClasses, spec.seed, o), dist,
    });
    if (summary?.stopped_by === 'non-finite loss') throw new DivergedError(out, summary.diverged_at ?? { epoch: summary.epochs_done, step: 0 });
    return summary;
  } finally {
    features?.dispose();
    await data.loaded.close();
  }
}

/**
 * A wall-time budget covers the whole run: the work done before the training clock starts (a
 * reference's training, a feature extraction) comes off the clock's budget, so that entries at
 * equal wall time get equal time in all, their selection cost included. The budget asked for and
 * the up-front seconds are kept in extra. Resuming gives the same numbers: a reused reference and a
 * feature cache report the seconds they first took.
 */
export function upfrontOffBudget(config: TrainConfig, log: (line: string) => void = () => {}): TrainConfig {
  const asked = config.budget?.seconds;
  const upfront = upfrontSeconds(config);
  if (asked === undefined || upfront === 0) return config;
  const seconds = Math.max(0, asked - upfront);
  log(`wall budget ${asked.toFixed(0)} s: ${upfront.toFixed(0)} s went to work before training (reference, features), ${seconds.toFixed(0)} s are left for it`);
  return { ...config, budget: { ...config.budget, seconds }, extra: { ...config.extra, [BUDGET_ASKED_FIELD]: asked, [BUDGET_UPFRONT_FIELD]: upfront } };
}

/** The trainer's configuration: the spec's training fields, and what people need to read the run. */
function trainConfig(spec: RunSpec, data: RunData, ref: Reference, o: RunTrainingOptions, compute: ResolvedCompute, dist: TrainDist | undefined): TrainConfig {
  const budget = spec.budgetSeconds !== undefined || spec.budgetGradientSamples !== undefined
    ? { ...(spec.budgetSeconds !== undefined ? { seconds: spec.budgetSeconds } : {}), ...(spec.budgetGradientSamples !== undefined ? { gradientSamples: spec.budgetGradientSamples } : {}) }
    : undefined;
  return {
    model: spec.model, method: spec.method as TrainConfig['method'], filterRatio: spec.filterRatio!, epochs: spec.epochs, batchSize: spec.batchSize,
    lr: spec.lr, momentum: spec.momentum, weightDecay: spec.weightDecay, seed: spec.seed, featureSource: spec.featureSource,
    solver: spec.solver, saveSelections: spec.saveSelections, jestChunks: spec.jestChunks, reference: ref.note,
    selectionMode: spec.selectionMode, lrScaling: spec.lrScaling, device: spec.device, precision: compute.precision, memoryFormat: compute.memoryFormat,
    scoreMode: spec.scoreMode, referenceScores: spec.referenceScores, infobatchMode: spec.infobatchMode,
    // Recorded only when off (spec.ts allows that for craig alone): older configs stay as they were.
    ...(spec.craigWeights === false ? { craigWeights: false } : {}),
    ...(spec.lrSchedule !== 'constant' || spec.warmupEpochs > 0 ? { lrSchedule: lrScheduleConfig(spec) } : {}),
    ...(spec.evalEvery !== undefined ? { evalEvery: spec.evalEvery } : {}),
    ...(budget ? { budget } : {}),
    ...(spec.filterSchedule !== 'constant' ? { schedule: { kind: spec.filterSchedule, end: spec.filterRatioEnd! } } : {}),
    extra: {
      [SPEC_FIELD]: spec, [COMPUTE_REASON_FIELD]: compute.reason, [MACHINE_FIELD]: machineName(), cache_dir: o.cacheDir ?? null, dataset_kind: data.kind, ...(o.datasetLabel !== undefined ? { [DATASET_LABEL_FIELD]: o.datasetLabel } : {}),
      train_samples: data.learnerSet.length, val_samples: data.valSet?.length ?? 0, test_samples: data.testSet.length, classes: data.loaded.classes, ...ref.extra,
      ...(dist ? { [WORLD_SIZE_FIELD]: dist.group.worldSize, selection_scope: dist.scope } : {}),
    },
  };
}

/** The learning-rate schedule's part of the trainer's configuration. */
function lrScheduleConfig(spec: RunSpec): NonNullable<TrainConfig['lrSchedule']> {
  return {
    kind: spec.lrSchedule, ...(spec.warmupEpochs > 0 ? { warmupEpochs: spec.warmupEpochs } : {}),
    ...(spec.lrSchedule === 'step' ? { milestones: spec.lrMilestones !== undefined ? parseMilestones(spec.lrMilestones)! : [Math.floor(spec.epochs / 2)], gamma: spec.lrGamma } : {}),
  };
}

/** The reference model of jest and rho-loss, and what the run records about it and its holdout. */
async function reference(spec: RunSpec, data: RunData, o: RunTrainingOptions, compute: Compute): Promise<Reference> {
  if (data.held !== null) {
    if (!REFERENCE_METHODS.includes(spec.method)) {
      o.log(`holding out ${data.held.length} training samples (as a jest/rho-loss run with this holdout does); training on the other ${data.learnerSet.length}`);
      return { extra: { held_out_samples: data.held.length } };
    }
    const dir = spec.referenceDir ?? join(spec.out!, REFERENCE_SUBDIR);
    const r = await trainHoldoutReference(spec, data.trainSet.subset(data.held), dir, data.loaders, { train: data.trainTransform, eval: data.evalTransform }, { ...o, callbacks: o.referenceCallbacks, compute });
    const kept = r.bestEpoch !== null ? `its epoch ${r.bestEpoch} of lowest validation loss (${r.bestValLoss!.toFixed(4)} on ${r.valSamples} held-out samples)` : 'its last epoch';
    const note = `${spec.model} trained by saln on ${data.held.length} held-out training samples (not in this run's training set) for ${r.epochs} epochs, in ${dir}; ${kept}: test accuracy ${(100 * r.testAccuracy).toFixed(2)}%, ${r.wallSeconds.toFixed(1)} s`;
    o.log(`reference model: ${note}`);
    return {
      model: r.model, note,
      extra: {
        reference_dir: dir, reference_wall_seconds: r.wallSeconds, reference_test_accuracy: r.testAccuracy, reference_samples: data.held.length,
        reference_best_epoch: r.bestEpoch, reference_val_samples: r.valSamples,
      },
    };
  }
  if (spec.reference === undefined) return { extra: {} };
  const model = await loadReference(spec.reference, data.loaders.numClasses, o);
  const run = RunDir.open(spec.reference);
  const note = `${referenceOrigin(run, spec.reference)}; ${overlap(run, data)} training samples are also in this run's training set)`;
  o.log(`reference model: ${note}`);
  return { model, note, extra: {} };
}

function referenceOrigin(run: RunDir, dir: string): string {
  const c = run.config();
  return `${c.model} from ${dir} (trained by saln train, method ${c.method}, ${c.epochs} epochs`;
}

/** How many of a reference run's training samples this run also trains on ("unknown" without its ids). */
function overlap(run: RunDir, data: RunData): string {
  const refIds = run.trainIds();
  if (refIds === null) return 'unknown';
  const mine = new Set(data.trainSet.ids);
  return `${refIds.filter((id) => mine.has(id)).length} of its ${refIds.length}`;
}

