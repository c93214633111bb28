/**
 * One call from a dataset on disk to prepared train / val / test sets.
 *
 *   const data = await loadData({ kind: 'cifar10-folder', root: '../shared/datasets/cifar10-jpg' });
 *   const loader = new DataLoader(data.train, { batchSize: 128, transform: new TrainTransform({ inputSize: 32 }) });
 *
 * Splits: the official test split when there is one (CIFAR-10, Oxford-IIIT Pet, a folder with
 * test/); validation is carved out of train with a seeded stratified split (valFraction, 10% by
 * default) unless the folder has val/. A folder without splits gets test carved out first
 * (testFraction, 20%), then validation from the rest.
 */
import { prepareSplit, type PrepareOptions } from './cache.js';
import { DataError } from './errors.js';
import type { PreparedSet } from './prepared.js';
import { deriveSeed } from './rng.js';
import { openDataset, type DatasetKind, type DatasetSource } from './sources.js';
import { stratifiedSplit } from './split.js';

export interface LoadDataOptions extends Omit<PrepareOptions, 'size'> {
  kind: DatasetKind;
  root: string;
  /** Cache image size. Default 32 for CIFAR-10, 224 for Oxford-IIIT Pet; required for 'folder'. */
  size?: number | [number, number];
  /** Share of train carved out for validation (default 0.1; 0 for none). */
  valFraction?: number;
  /** Share carved out for test when the dataset has no test split (default 0.2). */
  testFraction?: number;
  /** Seed of the carved splits (default 0). */
  seed?: number;
}

export interface LoadedData {
  source: DatasetSource;
  classes: string[];
  train: PreparedSet;
  /** null when valFraction is 0 and there is no val/ folder. */
  val: PreparedSet | null;
  test: PreparedSet;
  /** Frees the stores (memory or file handles) behind the three sets. */
  close(): Promise<void>;
}

export function defaultSize(kind: DatasetKind): number | null {
  return kind === 'cifar10-bin' || kind === 'cifar10-folder' ? 32 : kind === 'oxford-pets' ? 224 : null;
}

export async function loadData(o: LoadDataOptions): Promise<LoadedData> {
  const size = o.size ?? defaultSize(o.kind);
  if (size === null) throw new DataError(`a 'folder' dataset needs a cache image size (size, e.g. 224)`);
  const seed = o.seed ?? 0;
  const source = openDataset(o.kind, o.root, { strict: o.strict, warn: o.warn });
  const prep: PrepareOptions = { ...o, size };
  const opened: PreparedSet[] = [];
  const prepare = async (split: 'train' | 'val' | 'test' | 'all'): Promise<PreparedSet> => {
    const s = await prepareSplit(source, split, prep);
    opened.push(s);
    return s;
  };

  let train: PreparedSet;
  let test: PreparedSet;
  if (source.splits.all !== undefined || source.splits.test === undefined) {
    const pool = await prepare(source.splits.all !== undefined ? 'all' : 'train');
    const { keep, take } = stratifiedSplit(pool.labels, o.testFraction ?? 0.2, deriveSeed(seed, 'test'));
    train = pool.subset(keep);
    test = pool.subset(take);
  } else {
    train = await prepare('train');
    test = await prepare('test');
  }
  let val: PreparedSet | null = null;
  if (source.splits.val !== undefined) {
    val = await prepare('val');
  } else if ((o.valFraction ?? 0.1) > 0) {
    const { keep, take } = stratifiedSplit(train.labels, o.valFraction ?? 0.1, deriveSeed(seed, 'val'));
    val = train.subset(take);
    train = train.subset(keep);
  }
  return {
    source, classes: source.classes, train, val, test,
    close: async () => {
      for (const s of opened) await s.close();
    },
  };
}
