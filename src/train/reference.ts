/**
 * jest's and rho-loss's reference model: a finished run loaded from its checkpoint, or, with
 * --reference-holdout, standard training of the same model on the held-out samples with its own
 * recipe (--reference-epochs, --reference-lr, --reference-momentum, --reference-weight-decay).
 *
 * Checkpoint selection follows RHO-LOSS's official irreducible-loss training
 * (OATML/RHO-Loss src/train_irreducible.py with configs/callbacks/val_loss.yaml: ModelCheckpoint
 * on the lowest val_loss_epoch, then the best checkpoint scores the training set), except for
 * what it validates on: the official code validates on the test set; here a class-balanced
 * fraction of the holdout (--reference-val-fraction, default 0.1; the official code gives no
 * fraction since it uses the test set) is kept out of the reference's training to validate it, so
 * the test set stays unseen. With fraction 0 the last epoch is kept (validated, as before, on the
 * run's own validation set). The kept model's test accuracy is what the run records.
 *
 * A finished reference whose training ids and settings match is reused, so an experiment trains
 * one per seed.
 */
import { rmSync } from 'node:fs';
import { deriveSeed } from '../data/rng.js';
import type { PreparedSet } from '../data/prepared.js';
import type { BatchTransform } from '../data/transforms.js';
import { DataLoader } from '../data/loader.js';
import { InputError } from '../errors.js';
import { SGD } from '../optim/sgd.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { manualSeed, type Tensor } from '../tensor/index.js';
import type { FitCallback } from './callbacks.js';
import { computeOf, CPU_FP32, type Compute } from './compute.js';
import { evaluate } from './evaluate.js';
import { buildLearner, type Learner } from './models.js';
import type { RunSpec } from './options.js';
import { buildPretrainedLearner, PRETRAINED_LEARNERS } from './pretrained.js';
import type { TrainConfig } from './records.js';
import { balancedSubset } from './run-data.js';
import { RunDir, writeTrainIds } from './run-dir.js';
import { loaderSource, type TrainData } from './source.js';
import { train } from './train.js';

export interface LearnerSource {
  cacheDir?: string;
  log(text: string): void;
}

/** A fresh learner: built from its name, or pretrained weights with a new head (seeded either way). */
export async function makeLearner(name: string, numClasses: number, seed: number, o: LearnerSource): Promise<Learner> {
  manualSeed(seed);
  return PRETRAINED_LEARNERS[name] !== undefined ? buildPretrainedLearner(name, numClasses, { cacheDir: o.cacheDir, log: o.log }) : buildLearner(name, numClasses);
}

/** A finished run's model, in eval mode, from its checkpoint. */
export async function loadReference(dir: string, numClasses: number, o: LearnerSource): Promise<Learner> {
  const run = RunDir.open(dir);
  const refCfg = run.config();
  const refClasses = (refCfg.extra?.classes as string[] | undefined)?.length ?? numClasses;
  if (refClasses !== numClasses) throw new InputError('config', `reference: ${dir} has ${refClasses} classes, this dataset ${numClasses}`, { field: 'reference', path: dir });
  if (!run.has('checkpoint')) throw new InputError('config', `reference: ${dir} has no checkpoint`, { field: 'reference', path: dir });
  const model = await makeLearner(refCfg.model, numClasses, refCfg.seed, o);
  const dummy = new SGD(model.parameters(), { lr: refCfg.lr, momentum: refCfg.momentum });
  run.checkpoint(model, dummy);
  dummy.momentumBuffers.forEach((b) => b?.dispose());
  // A reference that kept its epoch of lowest validation loss: those weights.
  if (run.has('bestModel')) loadWeights(model, run.file('bestModel'));
  model.eval();
  return model;
}

function loadWeights(model: Learner, path: string): Record<string, string> {
  const f = loadSafetensors(path);
  try {
    model.loadStateDict(f.tensors);
  } finally {
    for (const t of f.tensors.values()) t.dispose();
  }
  return f.metadata;
}

/**
 * Keeps the model of the epoch with the lowest validation loss (ModelCheckpoint(monitor=val_loss,
 * mode=min, save_top_k=1): a later epoch replaces it only when strictly lower). Whether this epoch
 * is the best is read from the checkpointed metrics, so a resumed run continues the same choice.
 */
function bestValLossCallback(path: string): FitCallback {
  return {
    onCheckpoint: ({ state, model }) => {
      const losses = state.metrics.map((m) => m.val_loss ?? Infinity);
      const last = losses.length - 1;
      if (!(losses[last]! < Math.min(Infinity, ...losses.slice(0, last)))) return;
      const sd = new Map<string, Tensor>(model.stateDict());
      saveSafetensors(path, sd, { epoch: String(last + 1), val_loss: String(losses[last]) });
    },
  };
}

/** The 1-based epoch of lowest validation loss (the first of equals), or null without validation. */
function bestEpoch(losses: readonly (number | null)[]): number | null {
  let best: number | null = null;
  losses.forEach((v, i) => {
    if (v !== null && Number.isFinite(v) && (best === null || v < losses[best - 1]!)) best = i + 1;
  });
  return best;
}

/** A finished reference and what it cost. */
export interface HoldoutReference {
  model: Learner;
  epochs: number;
  /** The kept model's test accuracy. */
  testAccuracy: number;
  wallSeconds: number;
  /** The kept epoch (lowest validation loss on the holdout's validation part), or null: the last. */
  bestEpoch: number | null;
  bestValLoss: number | null;
  /** Holdout samples that validated the reference (0: none). */
  valSamples: number;
}

/** The reference's split of the holdout: what it trains on, and the class-balanced part that validates it. */
export function splitHoldout(spec: RunSpec, held: PreparedSet): { train: PreparedSet; val: PreparedSet | null } {
  const f = spec.referenceValFraction ?? 0;
  if (!(f > 0)) return { train: held, val: null };
  const n = Math.max(1, Math.round(f * held.length));
  if (n >= held.length) throw new InputError('config', `referenceValFraction: ${f} of the ${held.length} held-out samples leaves none to train the reference`, { field: 'referenceValFraction' });
  const val = balancedSubset(held.labels, n, deriveSeed(spec.seed, 'reference-val'));
  const inVal = new Set(val);
  return { train: held.subset(Array.from({ length: held.length }, (_, i) => i).filter((i) => !inVal.has(i))), val: held.subset(val) };
}

export interface HoldoutSetup extends LearnerSource {
  progress: boolean;
  /** Observers of the reference's own loop (a progress bar). */
  callbacks?: readonly FitCallback[];
  /** How the reference trains and is evaluated: the learner's run's compute (default CPU, fp32). */
  compute?: Compute;
}

/** The reference's configuration: standard training of the learner's model with the reference's recipe (each part defaults to the learner's). */
function referenceConfig(spec: RunSpec, train: PreparedSet, val: PreparedSet | null, numClasses: number, compute: Compute): TrainConfig {
  return {
    device: compute.device, precision: compute.precision, memoryFormat: compute.memoryFormat,
    model: spec.model, method: 'none', filterRatio: 0, epochs: spec.referenceEpochs ?? spec.epochs, batchSize: spec.batchSize,
    lr: spec.referenceLr ?? spec.lr, momentum: spec.referenceMomentum ?? spec.momentum, weightDecay: spec.referenceWeightDecay ?? spec.weightDecay,
    seed: deriveSeed(spec.seed, 'reference'), featureSource: 'cache', solver: 'auto', saveSelections: false,
    extra: { role: 'reference', for: spec.out, train_samples: train.length, val_samples: val?.length ?? 0, classes_count: numClasses },
  };
}

/** Whether dir already holds this reference's run (same ids and settings). */
function sameReference(run: RunDir, train: PreparedSet, cfg: TrainConfig): boolean {
  const ids = run.trainIds();
  if (ids === null || JSON.stringify(ids) !== JSON.stringify(train.ids) || !RunDir.exists(run.path)) return false;
  const c = run.config();
  return c.model === cfg.model && c.epochs === cfg.epochs && c.seed === cfg.seed && c.batchSize === cfg.batchSize && c.lr === cfg.lr
    && c.momentum === cfg.momentum && c.weightDecay === cfg.weightDecay && (c.extra?.val_samples ?? 0) === cfg.extra?.val_samples
    && sameCompute(computeOf(c), computeOf(cfg));
}

function sameCompute(a: Compute, b: Compute): boolean {
  return a.precision === b.precision && a.memoryFormat === b.memoryFormat;
}

/** Trains (or reuses, or resumes) the reference of a --reference-holdout run in dir. */
export async function trainHoldoutReference(spec: RunSpec, held: PreparedSet, dir: string, td: TrainData, transform: { train: BatchTransform; eval: BatchTransform }, o: HoldoutSetup): Promise<HoldoutReference> {
  const run = RunDir.at(dir);
  // Experiments share one reference per seed: two processes must not train it at once.
  const release = run.lock();
  try {
    return await trainOrReuse(spec, held, run, td, transform, o);
  } finally {
    release();
  }
}

async function trainOrReuse(spec: RunSpec, held: PreparedSet, run: RunDir, td: TrainData, transform: { train: BatchTransform; eval: BatchTransform }, o: HoldoutSetup): Promise<HoldoutReference> {
  const dir = run.path;
  run.removeTemporaryFiles();
  const split = splitHoldout(spec, held);
  const compute = o.compute ?? CPU_FP32;
  const cfg = referenceConfig(spec, split.train, split.val, td.numClasses, compute);
  const same = sameReference(run, split.train, cfg);
  const done = same ? run.summary() : null;
  const valSamples = split.val?.length ?? 0;
  if (done) {
    o.log(`reference model: reusing ${dir}`);
    const model = await loadReference(dir, td.numClasses, o);
    const best = kept(run, split.val !== null);
    return { model, epochs: cfg.epochs, testAccuracy: best?.testAccuracy ?? done.test_accuracy, wallSeconds: done.wall_seconds, bestEpoch: best?.epoch ?? null, bestValLoss: best?.valLoss ?? null, valSamples };
  }
  const resume = same && run.has('checkpoint');
  if (!resume) {
    writeTrainIds(dir, split.train.ids);
    rmSync(run.file('bestModel'), { force: true });
  }
  const parts = split.val ? ` (${split.train.length} to train, ${split.val.length} to validate and keep its epoch of lowest validation loss)` : '';
  o.log(`training the reference model on ${held.length} held-out samples for ${cfg.epochs} epochs into ${dir}${parts} ...`);
  const data: TrainData = {
    ...td, trainScoring: undefined,
    train: loaderSource(new DataLoader(split.train, { batchSize: spec.batchSize, seed: cfg.seed, transform: transform.train, memoryFormat: compute.memoryFormat })),
    ...(split.val ? { val: loaderSource(new DataLoader(split.val, { batchSize: Math.max(spec.batchSize, 256), shuffle: false, transform: transform.eval, memoryFormat: compute.memoryFormat })) } : {}),
  };
  const callbacks = [...(o.callbacks ?? []), ...(split.val ? [bestValLossCallback(run.file('bestModel'))] : [])];
  const res = await train({ config: cfg, runDir: dir, resume, callbacks, learner: await makeLearner(spec.model, td.numClasses, cfg.seed, o), data });
  const s = res.summary!;
  let testAccuracy = s.test_accuracy;
  let epoch: number | null = null;
  let valLoss: number | null = null;
  if (split.val) {
    epoch = bestEpoch(res.metrics.map((m) => m.val_loss));
    const meta = epoch !== null && run.has('bestModel') ? readMetadata(run.file('bestModel')) : null;
    if (epoch !== null && meta?.epoch === String(epoch)) {
      loadWeights(res.model, run.file('bestModel'));
      const t = await evaluate(res.model, td.test, compute);
      testAccuracy = t.accuracy;
      valLoss = Number(meta.val_loss);
      saveSafetensors(run.file('bestModel'), new Map<string, Tensor>(res.model.stateDict()), { ...meta, test_accuracy: String(t.accuracy) });
    } else {
      o.log(`reference model: ${dir} has no saved model of its best epoch (${epoch}); keeping its last epoch`);
      epoch = null;
    }
  }
  res.model.eval();
  return { model: res.model, epochs: cfg.epochs, testAccuracy, wallSeconds: s.wall_seconds, bestEpoch: epoch, bestValLoss: valLoss, valSamples };
}

/** The kept epoch of a finished reference, from its best-model file's metadata. */
function kept(run: RunDir, validated: boolean): { epoch: number; valLoss: number; testAccuracy: number } | null {
  if (!validated || !run.has('bestModel')) return null;
  const m = readMetadata(run.file('bestModel'));
  if (m.test_accuracy === undefined) return null;
  return { epoch: Number(m.epoch), valLoss: Number(m.val_loss), testAccuracy: Number(m.test_accuracy) };
}

function readMetadata(path: string): Record<string, string> {
  const f = loadSafetensors(path);
  for (const t of f.tensors.values()) t.dispose();
  return f.metadata;
}
