/**
 * jest's and rho-loss's reference model: a finished run loaded from its checkpoint, or, with
 * --reference-holdout, standard training of the same model on the held-out samples, evaluated on
 * the run's own val/test sets. A finished reference whose training ids and settings match is
 * reused, so an experiment trains one per seed.
 */
import { deriveSeed } from '../data/rng.js';
import type { PreparedSet } from '../data/prepared.js';
import type { BatchTransform } from '../data/transforms.js';
import { DataLoader } from '../data/loader.js';
import { InputError } from '../errors.js';
import { SGD } from '../optim/sgd.js';
import { manualSeed } from '../tensor/index.js';
import type { FitCallback } from './callbacks.js';
import { buildLearner, type Learner } from './models.js';
import type { RunSpec } from './options.js';
import { buildPretrainedLearner, PRETRAINED_LEARNERS } from './pretrained.js';
import type { TrainConfig } from './records.js';
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
  model.eval();
  return model;
}

/** A finished reference and what it cost. */
export interface HoldoutReference {
  model: Learner;
  epochs: number;
  testAccuracy: number;
  wallSeconds: number;
}

export interface HoldoutSetup extends LearnerSource {
  progress: boolean;
  /** Observers of the reference's own loop (a progress bar). */
  callbacks?: readonly FitCallback[];
}

/** The reference's configuration: standard training of the learner's model with the learner's recipe. */
function referenceConfig(spec: RunSpec, held: PreparedSet, numClasses: number): TrainConfig {
  return {
    model: spec.model, method: 'none', filterRatio: 0, epochs: spec.referenceEpochs ?? spec.epochs, batchSize: spec.batchSize, lr: spec.lr, momentum: spec.momentum, weightDecay: spec.weightDecay,
    seed: deriveSeed(spec.seed, 'reference'), featureSource: 'cache', solver: 'auto', saveSelections: false,
    extra: { role: 'reference', for: spec.out, train_samples: held.length, classes_count: numClasses },
  };
}

/** Whether dir already holds this reference's run (same ids and settings). */
function sameReference(run: RunDir, held: PreparedSet, cfg: TrainConfig): boolean {
  const ids = run.trainIds();
  if (ids === null || JSON.stringify(ids) !== JSON.stringify(held.ids) || !RunDir.exists(run.path)) return false;
  const c = run.config();
  return c.model === cfg.model && c.epochs === cfg.epochs && c.seed === cfg.seed && c.batchSize === cfg.batchSize && c.lr === cfg.lr;
}

/** Trains (or reuses, or resumes) the reference of a --reference-holdout run in dir. */
export async function trainHoldoutReference(spec: RunSpec, held: PreparedSet, dir: string, td: TrainData, transform: BatchTransform, o: HoldoutSetup): Promise<HoldoutReference> {
  const run = RunDir.at(dir);
  // Experiments share one reference per seed: two processes must not train it at once.
  const release = run.lock();
  try {
    return await trainOrReuse(spec, held, run, td, transform, o);
  } finally {
    release();
  }
}

async function trainOrReuse(spec: RunSpec, held: PreparedSet, run: RunDir, td: TrainData, transform: BatchTransform, o: HoldoutSetup): Promise<HoldoutReference> {
  const dir = run.path;
  run.removeTemporaryFiles();
  const cfg = referenceConfig(spec, held, td.numClasses);
  const same = sameReference(run, held, cfg);
  const done = same ? run.summary() : null;
  if (done) {
    o.log(`reference model: reusing ${dir}`);
    return { model: await loadReference(dir, td.numClasses, o), epochs: cfg.epochs, testAccuracy: done.test_accuracy, wallSeconds: done.wall_seconds };
  }
  const resume = same && run.has('checkpoint');
  if (!resume) writeTrainIds(dir, held.ids);
  o.log(`training the reference model on ${held.length} held-out samples for ${cfg.epochs} epochs into ${dir} ...`);
  const res = await train({
    config: cfg, runDir: dir, resume, callbacks: o.callbacks, learner: await makeLearner(spec.model, td.numClasses, cfg.seed, o),
    data: { ...td, train: loaderSource(new DataLoader(held, { batchSize: spec.batchSize, seed: cfg.seed, transform })) },
  });
  const s = res.summary!;
  res.model.eval();
  return { model: res.model, epochs: cfg.epochs, testAccuracy: s.test_accuracy, wallSeconds: s.wall_seconds };
}
