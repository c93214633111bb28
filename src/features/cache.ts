/**
 * The feature cache: one safetensors file per (dataset, split, model, preprocessing, size), holding
 * `features` [N, D] float32 and, in its metadata, the sample ids in row order. Selectors look rows
 * up by sample id.
 *
 * File: `<cache>/features/<dataset>-<split>-<model>-<hash>.safetensors`, hash = the first 16 hex of
 * the SHA-256 of the canonical JSON of the key (so a change of preprocessing, size or precision is a
 * new file).
 * Metadata: `saln_format` = 'features/1', `complete` = 'true', `rows`, `dim`, `key` (JSON), `ids`
 * (JSON array of strings). Only complete files are written under this name (atomically); runs in
 * progress keep their chunks in `<file>.partial/`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../binding/errors.js';
import { FileError } from '../io/errors.js';
import { loadSafetensors } from '../io/safetensors.js';
import { cacheDir } from '../cache-dir.js';
import { preprocessSpec, type PreprocessName, type PreprocessSpec } from '../models/preprocess.js';
import { tensor } from '../tensor/create.js';
import type { Precision } from '../tensor/precision.js';
import type { Tensor } from '../tensor/tensor.js';

export const FEATURES_FORMAT = 'features/1';

export interface FeatureCacheKey {
  /** Dataset name, e.g. 'cifar10'. */
  dataset: string;
  /** Split, e.g. 'train'. */
  split: string;
  /** Model name, e.g. 'resnet50-keras'. */
  model: string;
  /** The input normalization (a name from PREPROCESS, or a full spec), or a free-form description. */
  preprocess: PreprocessName | PreprocessSpec | string;
  /** Input size in pixels (square) or [h, w]. */
  size: number | [number, number];
  /** Anything else that changes the features (resize method, crop, weights hash…). */
  extra?: Record<string, unknown>;
  /**
   * The precision the model ran in (default 'fp32'). 'bf16' features differ (~1e-2 relative), so
   * they get their own file; 'fp32' hashes as keys did before the field existed, so older caches stay valid.
   */
  precision?: Precision;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}

/** The key with the preprocessing expanded to its spec (so 'caffe' and the same spec hash alike). */
export function normalizeKey(key: FeatureCacheKey): Record<string, unknown> {
  for (const f of ['dataset', 'split', 'model'] as const) {
    if (typeof key[f] !== 'string' || key[f] === '') throw new EngineError(`Expected a non-empty string for ${f} but received ${JSON.stringify(key[f])}`);
  }
  let pre: unknown = key.preprocess;
  if (typeof pre === 'string') {
    try {
      pre = preprocessSpec(pre as PreprocessName);
    } catch {
      // a free-form description: hashed as given
    }
  }
  const size = typeof key.size === 'number' ? [key.size, key.size] : key.size;
  const precision = key.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'bf16') throw new EngineError(`Expected 'fp32' or 'bf16' for precision but received ${JSON.stringify(precision)}`);
  const base = { format: FEATURES_FORMAT, dataset: key.dataset, split: key.split, model: key.model, preprocess: pre, size, extra: key.extra ?? {} };
  return canonical(precision === 'fp32' ? base : { ...base, precision }) as Record<string, unknown>;
}

export function featureKeyHash(key: FeatureCacheKey): string {
  return createHash('sha256').update(JSON.stringify(normalizeKey(key))).digest('hex').slice(0, 16);
}

const slug = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 48);

/** Where the cache file for key lives (default folder: `<SALN_CACHE>/features`). */
export function featureCachePath(key: FeatureCacheKey, dir?: string): string {
  const base = dir ?? join(cacheDir(), 'features');
  return join(base, `${slug(key.dataset)}-${slug(key.split)}-${slug(key.model)}-${featureKeyHash(key)}.safetensors`);
}

/** A complete feature cache, read into memory. Dispose it to free the features tensor. */
export class FeatureCache {
  readonly ids: readonly string[];
  /** [rows, dim] float32. */
  readonly features: Tensor;
  readonly key: Record<string, unknown>;
  readonly metadata: Record<string, string>;
  readonly #index: Map<string, number>;

  private constructor(ids: string[], features: Tensor, key: Record<string, unknown>, metadata: Record<string, string>) {
    this.ids = ids;
    this.features = features;
    this.key = key;
    this.metadata = metadata;
    this.#index = new Map(ids.map((id, i) => [id, i]));
  }

  /** Opens a cache file; refuses anything that is not a complete feature cache. */
  static open(path: string): FeatureCache {
    if (!existsSync(path)) throw new FileError(`no feature cache at ${path}`, { path });
    const f = loadSafetensors(path);
    const md = f.metadata;
    const features = f.tensors.get('features');
    const fail = (why: string): never => {
      for (const t of f.tensors.values()) t.dispose();
      throw new FileError(`${path} is not a complete feature cache: ${why}`, { path });
    };
    if (md.saln_format !== FEATURES_FORMAT) fail(`saln_format is ${JSON.stringify(md.saln_format)}, expected ${FEATURES_FORMAT}`);
    if (md.complete !== 'true') fail('it is not marked complete');
    if (!features || features.ndim !== 2 || features.dtype !== 'float32') fail('it has no float32 [N, D] tensor named features');
    let ids: unknown;
    let key: unknown;
    try {
      ids = JSON.parse(md.ids ?? 'null');
      key = JSON.parse(md.key ?? 'null');
    } catch (e) {
      fail(`bad metadata JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(ids) || ids.some((i) => typeof i !== 'string')) fail('metadata ids is not an array of strings');
    if ((ids as string[]).length !== features!.shape[0]) fail(`${(ids as string[]).length} ids for ${features!.shape[0]} rows`);
    if (new Set(ids as string[]).size !== (ids as string[]).length) fail('duplicate ids');
    return new FeatureCache(ids as string[], features!, (key ?? {}) as Record<string, unknown>, md);
  }

  /** Opens the cache for key if a complete one exists, else null. */
  static find(key: FeatureCacheKey, dir?: string): FeatureCache | null {
    const p = featureCachePath(key, dir);
    return existsSync(p) ? FeatureCache.open(p) : null;
  }

  get rows(): number {
    return this.features.shape[0]!;
  }
  get dim(): number {
    return this.features.shape[1]!;
  }
  has(id: string): boolean {
    return this.#index.has(id);
  }
  /** The row of id, or -1. */
  indexOf(id: string): number {
    return this.#index.get(id) ?? -1;
  }
  /** The row indices of ids (all must be present). */
  indicesOf(ids: readonly string[]): number[] {
    const missing: string[] = [];
    const rows = ids.map((id) => {
      const r = this.#index.get(id);
      if (r === undefined) missing.push(id);
      return r ?? -1;
    });
    if (missing.length) {
      throw new EngineError(`feature cache has no row for ${missing.length} id(s): ${missing.slice(0, 5).map((m) => JSON.stringify(m)).join(', ')}${missing.length > 5 ? ', …' : ''}`);
    }
    return rows;
  }
  /** The features of ids, in that order: [ids.length, dim] (a new tensor). */
  lookup(ids: readonly string[]): Tensor {
    const idx = tensor(this.indicesOf(ids), { dtype: 'int64' });
    try {
      return this.features.indexSelect(0, idx);
    } finally {
      idx.dispose();
    }
  }
  /** One sample's features as a Float32Array copy. */
  get(id: string): Float32Array {
    const r = this.indicesOf([id])[0]!;
    const row = this.features.select(0, r);
    try {
      return row.toTypedArray<'float32'>();
    } finally {
      row.dispose();
    }
  }
  dispose(): void {
    this.features.dispose();
  }
}
