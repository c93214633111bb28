/**
 * train(): one run from a configuration and data, as a library call. It checks the
 * configuration, builds the learner, optimizer and selector, restores a checkpoint when asked to
 * resume, and runs fit() with a RunDirWriter when given a run directory. Everything that prints
 * or parses flags lives in the CLI; runTraining (run.ts) adds datasets, features and references.
 */
import { InputError } from '../errors.js';
import { SGD } from '../optim/sgd.js';
import { keptCount } from '../selection/index.js';
import { cudaDeviceCount, manualSeed } from '../tensor/index.js';
import type { CheckpointState } from './checkpoint.js';
import { eventCallback, type FitCallback, type TrainEvent } from './callbacks.js';
import { computeOf, prepareModel } from './compute.js';
import { fit, freshState } from './fit.js';
import type { TrainDevice } from './modes.js';
import { buildLearner, type Learner } from './models.js';
import type { EpochMetrics, Summary, TrainConfig } from './records.js';
import { precomputeReferenceScores } from './reference-scores.js';
import { RunDir, RunDirWriter } from './run-dir.js';
import { createSelector, type Selector } from './selectors/index.js';
import { broadcastObject } from '../dist/index.js';
import { isRoot, syncFromRoot, type TrainDist } from './distributed.js';
import type { TrainData } from './source.js';

export interface TrainOptions {
  config: TrainConfig;
  data: TrainData;
  /** The run directory (config.json, metrics.jsonl, summary.json, checkpoint). Omitted: nothing is written. */
  runDir?: string;
  /** Continue from runDir's checkpoint when there is one. */
  resume?: boolean;
  /** Line-per-event log (the CLI's --json). */
  onEvent?: (e: TrainEvent) => void;
  /** More observers of the loop (progress bars, loggers). */
  callbacks?: readonly FitCallback[];
  /** Stop after this many epochs are done (tests: an interruption in-process). */
  stopAfterEpochs?: number;
  /** jest / rho-loss: the reference (irreducible-loss) model; it is only evaluated, in eval mode. */
  reference?: Learner;
  /** Use this learner instead of building config.model (it must be freshly initialized). */
  learner?: Learner;
  /** Data-parallel: this rank's group; data already holds its share. Only rank 0 reads and writes runDir. */
  dist?: TrainDist;
}

export interface TrainResult {
  summary: Summary | null;
  metrics: EpochMetrics[];
  model: Learner;
}

/**
 * Throws unless CUDA is usable when asked for. The message keeps the flag's spelling that a test
 * pins (the one flag name below the CLI).
 */
export function checkDevice(device: TrainDevice): void {
  if (device === 'cuda' && cudaDeviceCount() === 0) throw new InputError('config', '--device cuda: CUDA is not available (libtorch sees no GPU, or this build has no CUDA support); use --device cpu', { field: 'device' });
}

/** The configuration's own consistency, and the selector it asks for; throws before any work. */
function prepareSelector(cfg: TrainConfig, o: TrainOptions): Selector {
  const mode = cfg.selectionMode ?? 'in-batch';
  // In-batch: a clear error when k would be 0 at either end of the schedule (super-batch always trains B).
  if (mode === 'in-batch') {
    keptCount(cfg.batchSize, cfg.filterRatio);
    if (cfg.schedule && cfg.schedule.kind !== 'constant') keptCount(cfg.batchSize, cfg.schedule.end);
  }
  if (cfg.method === 'none' && mode === 'super-batch' && (cfg.filterRatio !== 0 || (cfg.schedule && cfg.schedule.kind !== 'constant'))) {
    throw new Error('method none trains every sample: super-batch mode needs filter ratio 0 (then it is plain training)');
  }
  if (cfg.method === 'infobatch' && cfg.infobatchMode === 'official' && mode === 'super-batch') {
    throw new Error('infobatch in its official mode prunes each epoch\'s index list and trains full batches of B: use in-batch selection mode (or infobatch mode in-batch)');
  }
  const selector = createSelector(cfg.method, { featureSource: cfg.featureSource, solver: cfg.solver, jestChunks: cfg.jestChunks, filterRatio: cfg.filterRatio, infobatchMode: cfg.infobatchMode, craigWeights: cfg.craigWeights });
  if (selector.needs.features && !o.data.featureLookup) throw new Error(`method ${cfg.method} with feature source 'cache' needs cached features (data.featureLookup)`);
  if (selector.needs.referenceLoss && !o.reference) throw new Error(`method ${cfg.method} needs a reference model (TrainOptions.reference)`);
  if (selector.needs.referenceLoss && cfg.referenceScores === 'precomputed' && !o.data.trainScoring) {
    throw new Error(`method ${cfg.method} with precomputed reference scores needs the training set un-augmented (TrainData.trainScoring)`);
  }
  const every = cfg.evalEvery;
  if (every !== undefined && !(Number.isInteger(every) && every >= 1)) throw new Error(`evalEvery: expected an integer >= 1, got ${every}`);
  if (every !== undefined && !o.data.val) throw new Error('evalEvery: validating every N gradient samples needs a validation split (TrainData.val is null)');
  return selector;
}

/** Trains (or resumes) one run. See fit.ts for the loop. */
export async function train(o: TrainOptions): Promise<TrainResult> {
  const cfg = o.config;
  const compute = computeOf(cfg);
  checkDevice(compute.device);
  const selector = prepareSelector(cfg, o);
  manualSeed(cfg.seed);
  const model = o.learner ?? buildLearner(cfg.model, o.data.numClasses);
  // Before the optimizer and a checkpoint's load: both keep the parameters' identity.
  prepareModel(model, compute);
  if (o.reference) prepareModel(o.reference, compute);
  model.train();
  const optimizer = new SGD(model.parameters(), { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  const callbacks: FitCallback[] = [];
  let state: CheckpointState | undefined;
  if (o.runDir !== undefined && isRoot(o.dist)) {
    const dir = RunDir.at(o.runDir);
    const resumed = o.resume === true && dir.has('checkpoint');
    if (resumed) state = dir.checkpoint(model, optimizer);
    const writer = new RunDirWriter(o.runDir, { method: cfg.method, featureSource: cfg.featureSource, saveSelections: cfg.saveSelections, epochs: cfg.epochs });
    writer.begin(cfg, state ?? freshState(cfg.seed), resumed);
    callbacks.push(writer);
  }
  if (o.dist) {
    // Every rank continues from rank 0's state, weights and momentum (DDP's start-up broadcast).
    state = (await broadcastObject(o.dist.group, state ?? null)) ?? undefined;
    await syncFromRoot(o.dist.group, model, optimizer);
  }
  if (o.onEvent) callbacks.push(eventCallback(o.onEvent));
  callbacks.push(...(o.callbacks ?? []));
  // Precomputed irreducible losses: computed again on a resume (deterministic), counted once (fit).
  const referenceScores = selector.needs.referenceLoss && cfg.referenceScores === 'precomputed' ? await precomputeReferenceScores(o.reference!, o.data.trainScoring!, compute) : undefined;
  const res = await fit({ config: cfg, data: o.data, model, optimizer, selector, reference: o.reference, referenceScores, state, callbacks, stopAfterEpochs: o.stopAfterEpochs, dist: o.dist });
  return { summary: res.summary, metrics: res.state.metrics, model };
}
