/**
 * saln's pretrained features of a run's training samples: a given feature cache file, or the
 * feature cache entry for exactly these samples, extracted now when it is missing.
 */
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import type { DatasetKind } from '../data/sources.js';
import type { PreparedSet } from '../data/prepared.js';
import { InputError } from '../errors.js';
import { rmSync } from 'node:fs';
import { extractFeatures, FeatureCache, featureCachePath, featureKeyHash, FEATURES_FORMAT, normalizeKey, type FeatureCacheKey } from '../features/index.js';
import { allGatherCat, allGatherObject, reduceSums, shardIndices, type ProcessGroup } from '../dist/index.js';
import { saveSafetensors } from '../io/safetensors.js';
import { cacheDir as defaultCacheDir } from '../cache-dir.js';
import { ensureModel, ZOO } from '../models/zoo.js';
import { F } from '../nn/index.js';
import { tidy, type Precision } from '../tensor/index.js';
import type { RunSpec } from './options.js';

export interface FeatureSetup {
  cacheDir?: string;
  progress: boolean;
  /** The run's precision: bf16 runs extract their features in bf16 too (a cache entry of its own). Default fp32. */
  precision?: Precision;
  log(text: string): void;
}

/** What computing a feature cache took (its metadata; 0 for files written before it was recorded). */
export function extractionSeconds(cache: FeatureCache): number {
  const v = Number(cache.metadata.seconds);
  return Number.isFinite(v) && v >= 0 ? v : 0;
}

/**
 * Features of the set's samples from the spec's feature model: the --features file, the feature
 * cache, or extracted now (data-parallel: each rank extracts its shard, then every rank writes the
 * gathered whole into its feature cache).
 */
export async function trainFeatures(spec: RunSpec, kind: DatasetKind, set: PreparedSet, o: FeatureSetup, group?: ProcessGroup): Promise<FeatureCache> {
  const cache = spec.featuresFile !== undefined ? FeatureCache.open(spec.featuresFile) : await cachedOrExtracted(spec, kind, set, o, group);
  const missing = set.ids.filter((id) => !cache.has(id));
  if (missing.length) {
    cache.dispose();
    throw new InputError('config', `featuresFile: the feature cache has no row for ${missing.length} training sample(s), e.g. ${JSON.stringify(missing[0])}`, { field: 'featuresFile', path: spec.featuresFile });
  }
  return cache;
}

async function cachedOrExtracted(spec: RunSpec, kind: DatasetKind, set: PreparedSet, o: FeatureSetup, group?: ProcessGroup): Promise<FeatureCache> {
  const entry = ZOO[spec.featureModel]!;
  const size = spec.featureSize ?? entry.inputSize;
  const ids = set.ids;
  const key = { ...featureKey(spec, kind, set, size), precision: o.precision ?? 'fp32' };
  const base = join(defaultCacheDir(o.cacheDir), 'features');
  const found = FeatureCache.find(key, base);
  if (!group || group.worldSize === 1) return found ?? (await extract(spec, set, key, base, Int32Array.from(ids, (_, i) => i), o));
  // Every rank takes part unless every rank has the cache (the collectives need all of them).
  const [missing] = await reduceSums(group, [found ? 0 : 1]);
  if (missing === 0) return found!;
  found?.dispose();
  const shardKey = { ...key, extra: { ...key.extra, shard: `${group.rank}/${group.worldSize}` } };
  const shard = await extract(spec, set, shardKey, base, shardIndices(ids.length, group.rank, group.worldSize), o);
  try {
    const all = await allGatherCat(group, shard.features);
    const allIds = (await allGatherObject(group, shard.ids)).flat();
    const path = featureCachePath(key, base);
    try {
      saveSafetensors(path, { features: all }, {
        saln_format: FEATURES_FORMAT, complete: 'true', rows: String(allIds.length), dim: String(all.shape[1]), key: JSON.stringify(normalizeKey(key)),
        ids: JSON.stringify(allIds), model: key.model, dataset: key.dataset, split: key.split, key_hash: featureKeyHash(key), created: new Date().toISOString(),
      });
    } finally {
      all.dispose();
    }
    return FeatureCache.open(path);
  } finally {
    shard.dispose();
    rmSync(featureCachePath(shardKey, base), { force: true });
  }
}

/** The feature cache key of a run's training samples. */
function featureKey(spec: RunSpec, kind: DatasetKind, set: PreparedSet, size: number): FeatureCacheKey {
  const entry = ZOO[spec.featureModel]!;
  const ids = set.ids;
  // The cache is keyed by the exact set of training ids (a --limit-train subset is its own file),
  // and by the prepared images it starts from (resized here to the feature model's size), by their
  // sources' bytes: the same files re-mounted under new mtimes keep their features.
  return {
    dataset: `${kind}:${basename(spec.dataDir)}`, split: 'train-run', model: entry.name, preprocess: entry.preprocess, size,
    extra: { prepared: set.index.contentKey ?? set.index.key, from: [set.height, set.width], resize: 'bilinear-half-pixel', ids_sha256: createHash('sha256').update(ids.join('\n')).digest('hex') },
  };
}

/** Extracts the features of the set's samples at `positions` into the cache entry for key. */
async function extract(spec: RunSpec, set: PreparedSet, key: FeatureCacheKey, base: string, positions: Int32Array, o: FeatureSetup): Promise<FeatureCache> {
  const entry = ZOO[spec.featureModel]!;
  const size = spec.featureSize ?? entry.inputSize;
  const ids = Array.from(positions, (p) => set.ids[p]!);
  o.log(`extracting ${entry.name} features of ${ids.length} training samples at ${size} px into the feature cache ...`);
  // Fetched on first use (with a progress bar and its pinned SHA-256); offline, the error names the pull command.
  await ensureModel(entry.name, { cacheDir: o.cacheDir, log: o.log, progress: o.progress });
  const model = await entry.load({ cacheDir: o.cacheDir, log: o.log });
  const batch = 32;
  const res = await extractFeatures({
    model, key, cacheDir: base, preprocess: entry.preprocess, total: ids.length, progress: o.progress, precision: key.precision ?? 'fp32',
    source: async function* (done) {
      for (let s = 0; s < ids.length; s += batch) {
        const e = Math.min(ids.length, s + batch);
        if (ids.slice(s, e).every((id) => done.has(id))) continue;
        const raw = await set.readBatch(positions.subarray(s, e));
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
