/**
 * From a validated `saln train` configuration to a finished run: data (prepared cache, class-balanced
 * limits, loaders), features for saln (a given cache file, or extracted on the fly into the feature
 * cache), then train().
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic.js';
import { SGD } from '../optim/sgd.js';
import { CHECKPOINT_FILE, loadCheckpoint } from './checkpoint.js';
import { buildLearner, type Learner } from './models.js';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { DataLoader } from '../data/loader.js';
import { loadData } from '../data/load.js';
import { deriveSeed, Rng } from '../data/rng.js';
import { findCifar10BinDir, type DatasetKind } from '../data/sources.js';
import { EvalTransform, TrainTransform, type BatchTransform } from '../data/transforms.js';
import type { PreparedSet } from '../data/prepared.js';
import { extractFeatures, FeatureCache } from '../features/index.js';
import { F } from '../nn/index.js';
import { cacheDir as modelCacheDir } from '../models/cache.js';
import { ZOO } from '../models/zoo.js';
import { manualSeed, setNumThreads, tidy } from '../tensor/index.js';
import { buildPretrainedLearner, PRETRAINED_LEARNERS } from './pretrained.js';
import type { CliConfig } from './config.js';
import { loaderSource, type TrainData } from './source.js';
import { readRunConfig, train, type Summary, type TrainConfig, type TrainEvent } from './trainer.js';
import { REFERENCE_METHODS } from './selectors/index.js';
import { drawnBatchSize } from './modes.js';

/** n positions of a class-balanced subset (as equal per class as the counts allow), seeded, in ascending order. */
export function balancedSubset(labels: ArrayLike<number>, n: number, seed: number): number[] {
  if (n >= labels.length) return Array.from({ length: labels.length }, (_, i) => i);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!byClass.has(l)) byClass.set(l, []);
    byClass.get(l)!.push(i);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const rng = new Rng(deriveSeed(seed, 'balanced-subset'));
  const pools = classes.map((c) => rng.shuffle(byClass.get(c)!.slice()));
  const out: number[] = [];
  for (let round = 0; out.length < n; round++) {
    for (const p of pools) {
      if (out.length >= n) break;
      if (round < p.length) out.push(p[round]!);
    }
  }
  return out.sort((a, b) => a - b);
}

export interface RunIO {
  resume: boolean;
  cacheDir?: string;
  json: boolean;
  progress: boolean;
  out(text: string): void;
  warn(text: string): void;
  log(text: string): void;
  usage(message: string): Error;
}

function datasetKind(cfg: CliConfig): DatasetKind {
  if (cfg.dataset === 'cifar10') return findCifar10BinDir(cfg.dataDir) !== null ? 'cifar10-bin' : 'cifar10-folder';
  return cfg.dataset === 'oxford-pets' ? 'oxford-pets' : 'folder';
}

/** Features of the training samples from the feature model, from the feature cache or extracted now. */
async function trainFeatures(cfg: CliConfig, kind: DatasetKind, set: PreparedSet, io: RunIO): Promise<FeatureCache> {
  if (cfg.featuresFile !== undefined) return FeatureCache.open(cfg.featuresFile);
  const entry = ZOO[cfg.featureModel]!;
  const size = cfg.featureSize ?? entry.inputSize;
  const ids = set.ids;
  // The cache is keyed by the exact set of training ids (a --limit-train subset is its own file),
  // and by the prepared images it starts from (resized here to the feature model's size).
  const key = {
    dataset: `${kind}:${basename(cfg.dataDir)}`, split: 'train-run', model: entry.name, preprocess: entry.preprocess, size,
    extra: { prepared: set.index.key, from: [set.height, set.width], resize: 'bilinear-half-pixel', ids_sha256: createHash('sha256').update(ids.join('\n')).digest('hex') },
  };
  const base = join(modelCacheDir(io.cacheDir), 'features');
  const found = FeatureCache.find(key, base);
  if (found) return found;
  io.log(`extracting ${entry.name} features of ${ids.length} training samples at ${size} px into the feature cache ...`);
  const model = await entry.load({ cacheDir: io.cacheDir, log: io.log });
  const batch = 32;
  const res = await extractFeatures({
    model, key, cacheDir: base, preprocess: entry.preprocess, total: ids.length, progress: io.progress,
    source: async function* (done) {
      for (let s = 0; s < ids.length; s += batch) {
        const e = Math.min(ids.length, s + batch);
        if (ids.slice(s, e).every((id) => done.has(id))) continue;
        const raw = await set.readBatch(Int32Array.from({ length: e - s }, (_, i) => s + i));
        const x = tidy(() => {
          const t = raw.permute(0, 3, 1, 2).float().contiguous();
          return t.shape[2] !== size || t.shape[3] !== size ? F.interpolate(t, [size, size], { mode: 'bilinear' }) : t;
        });
        raw.dispose();
        yield { ids: ids.slice(s, e), x };
      }
    },
  });
  return FeatureCache.open(res.path);
}

/** A fresh learner: built from its name, or pretrained weights with a new head (seeded either way). */
async function makeLearner(name: string, numClasses: number, seed: number, io: RunIO): Promise<Learner> {
  manualSeed(seed);
  return PRETRAINED_LEARNERS[name] !== undefined ? buildPretrainedLearner(name, numClasses, { cacheDir: io.cacheDir, log: io.log }) : buildLearner(name, numClasses);
}

/** A finished run's model, in eval mode, from its checkpoint. */
async function loadReference(dir: string, numClasses: number, io: RunIO): Promise<Learner> {
  const refCfg = readRunConfig(dir);
  const refClasses = (refCfg.extra?.classes as string[] | undefined)?.length ?? numClasses;
  if (refClasses !== numClasses) throw io.usage(`--reference: ${dir} has ${refClasses} classes, this dataset ${numClasses}`);
  if (!existsSync(join(dir, CHECKPOINT_FILE))) throw io.usage(`--reference: ${dir} has no checkpoint`);
  const model = await makeLearner(refCfg.model, numClasses, refCfg.seed, io);
  const dummy = new SGD(model.parameters(), { lr: refCfg.lr, momentum: refCfg.momentum });
  loadCheckpoint(join(dir, CHECKPOINT_FILE), model, dummy);
  dummy.momentumBuffers.forEach((b) => b?.dispose());
  model.eval();
  return model;
}

/**
 * Trains (or reuses, or resumes) the reference of a --reference-holdout run: standard training
 * of the same model on the held-out samples, evaluated on the run's own val/test sets. A
 * finished reference whose training ids match is reused, so an experiment trains one per seed.
 */
async function trainHoldoutReference(cfg: CliConfig, held: PreparedSet, dir: string, td: TrainData, transform: BatchTransform, io: RunIO): Promise<{ model: Learner; epochs: number; testAccuracy: number; wallSeconds: number }> {
  const idsPath = join(dir, 'train_ids.json');
  const summaryPath = join(dir, 'summary.json');
  const epochs = cfg.referenceEpochs ?? cfg.epochs;
  const sameIds = existsSync(idsPath) && readFileSync(idsPath, 'utf8') === JSON.stringify(held.ids);
  const refConfig: TrainConfig = {
    model: cfg.model, method: 'none', filterRatio: 0, epochs, batchSize: cfg.batchSize, lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay,
    seed: deriveSeed(cfg.seed, 'reference'), featureSource: 'cache', solver: 'auto', saveSelections: false,
    extra: { role: 'reference', for: cfg.out, train_samples: held.length, classes_count: td.numClasses },
  };
  const sameConfig = existsSync(join(dir, 'config.json')) && (() => {
    const c = readRunConfig(dir);
    return c.model === refConfig.model && c.epochs === epochs && c.seed === refConfig.seed && c.batchSize === cfg.batchSize && c.lr === cfg.lr;
  })();
  if (sameIds && sameConfig && existsSync(summaryPath)) {
    const s = JSON.parse(readFileSync(summaryPath, 'utf8')) as Summary;
    io.log(`reference model: reusing ${dir}`);
    return { model: await loadReference(dir, td.numClasses, io), epochs, testAccuracy: s.test_accuracy, wallSeconds: s.wall_seconds };
  }
  const resume = sameIds && sameConfig && existsSync(join(dir, CHECKPOINT_FILE));
  mkdirSync(dir, { recursive: true });
  if (!resume) writeFileAtomic(idsPath, [new TextEncoder().encode(JSON.stringify(held.ids))]);
  io.log(`training the reference model on ${held.length} held-out samples for ${epochs} epochs into ${dir} ...`);
  const res = await train({
    config: refConfig, runDir: dir, resume, progress: io.progress, learner: await makeLearner(cfg.model, td.numClasses, refConfig.seed, io),
    data: { ...td, train: loaderSource(new DataLoader(held, { batchSize: cfg.batchSize, seed: refConfig.seed, transform })) },
  });
  const s = res.summary!;
  res.model.eval();
  return { model: res.model, epochs, testAccuracy: s.test_accuracy, wallSeconds: s.wall_seconds };
}

export async function runCliTraining(cfg: CliConfig, io: RunIO, hooks: { onEvent?: (e: TrainEvent) => void } = {}): Promise<Summary | null> {
  // The engine starts with 1 intra-op thread in a fresh process (measured here); use every core unless told.
  setNumThreads(cfg.threads ?? availableParallelism());
  const kind = datasetKind(cfg);
  const data = await loadData({
    kind, root: cfg.dataDir, size: cfg.imageSize, seed: cfg.seed, cacheDir: join(io.cacheDir ?? modelCacheDir(), 'prepared'),
    warn: io.warn,
  });
  let features: FeatureCache | null = null;
  try {
    const limit = (s: PreparedSet, n: number | undefined, what: string): PreparedSet => (n === undefined ? s : s.subset(balancedSubset(s.labels, n, deriveSeed(cfg.seed, what))));
    const trainSet = limit(data.train, cfg.limitTrain, 'train');
    const valSet = data.val ? limit(data.val, cfg.limitVal, 'val') : null;
    const testSet = limit(data.test, cfg.limitTest, 'test');
    const inputSize = cfg.imageSize ?? trainSet.height;
    const evalT = new EvalTransform({ inputSize });
    const trainT = cfg.augment ? new TrainTransform({ inputSize }) : evalT;
    const evalBatch = Math.max(cfg.batchSize, 256);
    // A reference holdout leaves the learner's training set before anything is built on it
    // (loader, features): the learner never sees those samples.
    let learnerSet = trainSet;
    let held: number[] | null = null;
    if (cfg.referenceHoldout !== undefined) {
      held = balancedSubset(trainSet.labels, cfg.referenceHoldout, deriveSeed(cfg.seed, 'reference-holdout'));
      if (held.length >= trainSet.length) throw io.usage(`--reference-holdout: ${cfg.referenceHoldout} leaves no training samples for the learner (the training set has ${trainSet.length})`);
      const heldSet = new Set(held);
      learnerSet = trainSet.subset(Array.from({ length: trainSet.length }, (_, i) => i).filter((i) => !heldSet.has(i)));
    }
    const td: TrainData = {
      // Super-batch mode draws ⌈B/(1 − f)⌉ per batch: the loader's batch size is the drawn size
      // (the trainer rebuilds it per epoch when a schedule changes f).
      train: loaderSource(new DataLoader(learnerSet, { batchSize: drawnBatchSize(cfg.selectionMode, cfg.batchSize, cfg.filterRatio), seed: cfg.seed, transform: trainT })),
      val: valSet ? loaderSource(new DataLoader(valSet, { batchSize: evalBatch, shuffle: false, transform: evalT })) : null,
      test: loaderSource(new DataLoader(testSet, { batchSize: evalBatch, shuffle: false, transform: evalT })),
      numClasses: data.classes.length,
    };
    if (cfg.method === 'saln' && cfg.featureSource === 'cache') {
      features = await trainFeatures(cfg, kind, learnerSet, io);
      const f = features;
      const missing = learnerSet.ids.filter((id) => !f.has(id));
      if (missing.length) throw io.usage(`--features: the feature cache has no row for ${missing.length} training sample(s), e.g. ${JSON.stringify(missing[0])}`);
      td.featureLookup = (ids) => f.lookup(ids);
    }
    let reference: Learner | undefined;
    let referenceNote: string | undefined;
    let referenceExtra: Record<string, unknown> = {};
    if (held !== null) {
      if (REFERENCE_METHODS.includes(cfg.method)) {
        const refDir = cfg.referenceDir ?? join(cfg.out, 'reference');
        const r = await trainHoldoutReference(cfg, trainSet.subset(held), refDir, td, trainT, io);
        reference = r.model;
        referenceNote = `${cfg.model} trained by saln on ${held.length} held-out training samples (not in this run's training set) for ${r.epochs} epochs, in ${refDir}; its test accuracy ${(100 * r.testAccuracy).toFixed(2)}%, ${r.wallSeconds.toFixed(1)} s`;
        referenceExtra = { reference_dir: refDir, reference_wall_seconds: r.wallSeconds, reference_test_accuracy: r.testAccuracy, reference_samples: held.length };
        io.log(`reference model: ${referenceNote}`);
      } else {
        referenceExtra = { held_out_samples: held.length };
        io.log(`holding out ${held.length} training samples (as a jest/rho-loss run with this holdout does); training on the other ${learnerSet.length}`);
      }
    } else if (cfg.reference !== undefined) {
      reference = await loadReference(cfg.reference, td.numClasses, io);
      const refCfg = readRunConfig(cfg.reference);
      const idsFile = join(cfg.reference, 'train_ids.json');
      let overlap = 'unknown';
      if (existsSync(idsFile)) {
        const refIds = JSON.parse(readFileSync(idsFile, 'utf8')) as string[];
        const mine = new Set(trainSet.ids);
        overlap = `${refIds.filter((id) => mine.has(id)).length} of its ${refIds.length}`;
      }
      referenceNote = `${refCfg.model} from ${cfg.reference} (trained by saln train, method ${refCfg.method}, ${refCfg.epochs} epochs; ${overlap} training samples are also in this run's training set)`;
      io.log(`reference model: ${referenceNote}`);
    }
    const config: TrainConfig = {
      model: cfg.model, method: cfg.method as TrainConfig['method'], filterRatio: cfg.filterRatio, epochs: cfg.epochs, batchSize: cfg.batchSize,
      lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay, seed: cfg.seed, featureSource: cfg.featureSource as TrainConfig['featureSource'],
      solver: cfg.solver, saveSelections: cfg.saveSelections, jestChunks: cfg.jestChunks, reference: referenceNote,
      selectionMode: cfg.selectionMode, lrScaling: cfg.lrScaling, device: cfg.device,
      ...(cfg.evalEvery !== undefined ? { evalEvery: cfg.evalEvery } : {}),
      ...(cfg.budgetSeconds !== undefined || cfg.budgetGradientSamples !== undefined
        ? { budget: { ...(cfg.budgetSeconds !== undefined ? { seconds: cfg.budgetSeconds } : {}), ...(cfg.budgetGradientSamples !== undefined ? { gradientSamples: cfg.budgetGradientSamples } : {}) } }
        : {}),
      ...(cfg.filterSchedule !== 'constant' ? { schedule: { kind: cfg.filterSchedule, end: cfg.filterRatioEnd! } } : {}),
      extra: { cli: cfg, cache_dir: io.cacheDir ?? null, dataset_kind: kind, train_samples: learnerSet.length, val_samples: valSet?.length ?? 0, test_samples: testSet.length, classes: data.classes, ...referenceExtra },
    };
    if (!io.resume) {
      mkdirSync(cfg.out, { recursive: true });
      writeFileAtomic(join(cfg.out, 'train_ids.json'), [new TextEncoder().encode(JSON.stringify(learnerSet.ids))]);
    }
    const res = await train({
      config, data: td, runDir: cfg.out, resume: io.resume, progress: io.progress, reference, learner: await makeLearner(cfg.model, td.numClasses, cfg.seed, io),
      onEvent: (e) => {
        // Test hook: die by SIGKILL right after this epoch's checkpoint (the resume test).
        if (e.event === 'checkpoint' && process.env.SALN_TEST_SIGKILL_AFTER_EPOCH === String(e.epoch)) process.kill(process.pid, 'SIGKILL');
        hooks.onEvent?.(e);
        if (io.json) io.out(`${JSON.stringify(e)}\n`);
        else if (e.event === 'epoch') {
          io.log(`epoch ${e.epoch}/${cfg.epochs}${e.partial ? ' (partial: budget reached)' : ''}: train loss ${e.train_loss.toFixed(4)} acc ${(100 * e.train_accuracy).toFixed(1)}% (${e.trained_samples} trained)` +
            (e.val_accuracy !== null ? ` | val loss ${e.val_loss!.toFixed(4)} acc ${(100 * e.val_accuracy).toFixed(1)}%` : '') + ` | ${e.wall_seconds.toFixed(1)} s`);
        }
      },
    });
    const s = res.summary;
    if (s && !io.json) {
      const ph = Object.entries(s.phases).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
      io.out(`${cfg.out}: test accuracy ${(100 * s.test_accuracy).toFixed(2)}%, best val ${s.best_val_accuracy === null ? '-' : (100 * s.best_val_accuracy).toFixed(2) + '%'}, ${s.wall_seconds.toFixed(1)} s (${ph}); ` +
        `${s.counts.gradient_samples} gradient samples in ${s.counts.optimizer_steps} steps, stopped by ${s.stopped_by}\n`);
    }
    return s;
  } finally {
    features?.dispose();
    await data.close();
  }
}
