/**
 * A run's data, from its spec: the prepared dataset, class-balanced limits, the reference
 * holdout (split off before anything is built on the training set, so the learner never sees
 * those samples), and the loaders.
 */
import { DataLoader } from '../data/loader.js';
import { loadData, type LoadedData } from '../data/load.js';
import { deriveSeed, Rng } from '../data/rng.js';
import { findCifar10BinDir, type DatasetKind } from '../data/sources.js';
import { EvalTransform, TrainTransform, type BatchTransform } from '../data/transforms.js';
import type { PreparedSet } from '../data/prepared.js';
import type { MemoryFormat } from '../tensor/index.js';
import { InputError } from '../errors.js';
import { drawnBatchSize } from './modes.js';
import { nativeInputSize, type RunSpec } from './options.js';
import { loaderSource, type TrainData } from './source.js';
import { evalSampler, trainSampler } from './distributed.js';

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

export function datasetKind(spec: RunSpec): DatasetKind {
  if (spec.dataset === 'cifar10') return findCifar10BinDir(spec.dataDir) !== null ? 'cifar10-bin' : 'cifar10-folder';
  return spec.dataset === 'oxford-pets' ? 'oxford-pets' : 'folder';
}

export interface RunData {
  loaded: LoadedData;
  kind: DatasetKind;
  /** The training set after --limit-train, before the holdout. */
  trainSet: PreparedSet;
  /** What the learner trains on: trainSet without the holdout. */
  learnerSet: PreparedSet;
  valSet: PreparedSet | null;
  testSet: PreparedSet;
  /** Positions in trainSet held out for the reference, or null. */
  held: number[] | null;
  trainTransform: BatchTransform;
  /** The un-augmented transform of validation, tests and precomputed reference scores. */
  evalTransform: BatchTransform;
  loaders: TrainData;
}

/** This process's place in a data-parallel job: its loaders take their share of every split. */
export interface DataShard {
  rank: number;
  worldSize: number;
}

export async function buildRunData(spec: RunSpec, o: { preparedDir: string; warn: (t: string) => void; shard?: DataShard; memoryFormat?: MemoryFormat }): Promise<RunData> {
  const kind = datasetKind(spec);
  const loaded = await loadData({ kind, root: spec.dataDir, size: spec.imageSize ?? nativeInputSize(spec.model), seed: spec.seed, cacheDir: o.preparedDir, warn: o.warn });
  try {
    const limit = (s: PreparedSet, n: number | undefined, what: string): PreparedSet => (n === undefined ? s : s.subset(balancedSubset(s.labels, n, deriveSeed(spec.seed, what))));
    const trainSet = limit(loaded.train, spec.limitTrain, 'train');
    const valSet = loaded.val ? limit(loaded.val, spec.limitVal, 'val') : null;
    const testSet = limit(loaded.test, spec.limitTest, 'test');
    const inputSize = spec.imageSize ?? trainSet.height;
    const evalT = new EvalTransform({ inputSize });
    const trainT = spec.augment ? new TrainTransform({ inputSize }) : evalT;
    const evalBatch = spec.evalBatchSize ?? Math.max(spec.batchSize, 256);
    const { learnerSet, held } = holdOut(spec, trainSet);
    const sh = o.shard;
    const memoryFormat = o.memoryFormat ?? 'contiguous';
    const loaders: TrainData = {
      // Super-batch mode draws ⌈B/(1 − f)⌉ per batch: the loader's batch size is the drawn size
      // (the loop rebuilds it per epoch when a schedule changes f). Data-parallel ranks each take
      // their DistributedSampler share of the epoch (B per rank) and a shard of val and test.
      train: loaderSource(new DataLoader(learnerSet, {
        batchSize: drawnBatchSize(spec.selectionMode, spec.batchSize, spec.filterRatio ?? 0), seed: spec.seed, transform: trainT, memoryFormat,
        sampler: sh && trainSampler(learnerSet.length, sh.rank, sh.worldSize),
      })),
      val: valSet ? loaderSource(new DataLoader(valSet, { batchSize: evalBatch, shuffle: false, transform: evalT, memoryFormat, sampler: sh && evalSampler(valSet.length, sh.rank, sh.worldSize) })) : null,
      test: loaderSource(new DataLoader(testSet, { batchSize: evalBatch, shuffle: false, transform: evalT, memoryFormat, sampler: sh && evalSampler(testSet.length, sh.rank, sh.worldSize) })),
      // Precomputed reference scores see the training images un-augmented (RHO-LOSS's official pipeline).
      trainScoring: loaderSource(new DataLoader(learnerSet, { batchSize: evalBatch, shuffle: false, transform: evalT, memoryFormat })),
      numClasses: loaded.classes.length,
    };
    return { loaded, kind, trainSet, learnerSet, valSet, testSet, held, trainTransform: trainT, evalTransform: evalT, loaders };
  } catch (e) {
    await loaded.close();
    throw e;
  }
}

/** The learner's set without the class-balanced reference holdout (when the spec asks for one). */
function holdOut(spec: RunSpec, trainSet: PreparedSet): { learnerSet: PreparedSet; held: number[] | null } {
  if (spec.referenceHoldout === undefined) return { learnerSet: trainSet, held: null };
  const held = balancedSubset(trainSet.labels, spec.referenceHoldout, deriveSeed(spec.seed, 'reference-holdout'));
  if (held.length >= trainSet.length) {
    throw new InputError('config', `referenceHoldout: ${spec.referenceHoldout} leaves no training samples for the learner (the training set has ${trainSet.length})`, { field: 'referenceHoldout' });
  }
  const heldSet = new Set(held);
  return { learnerSet: trainSet.subset(Array.from({ length: trainSet.length }, (_, i) => i).filter((i) => !heldSet.has(i))), held };
}
