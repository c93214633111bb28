/**
 * Feature extraction into the cache: every sample once, in eval mode, without gradients, and
 * without augmentation (the source decides what x is; pass it un-augmented images).
 *
 *   const res = await extractFeatures({
 *     model: await zooEntry('resnet50-keras').load(),
 *     source: batches,                    // AsyncIterable<{ ids: string[]; x: Tensor }>, RGB 0..255 [B,3,H,W]
 *     preprocess: 'caffe',                // applied to x here; null if x is already normalized
 *     key: { dataset: 'cifar10', split: 'train', model: 'resnet50-keras', preprocess: 'caffe', size: 224 },
 *     total: 50000,
 *   });
 *   const cache = FeatureCache.open(res.path);
 *
 * Resuming: rows are flushed every `chunkRows` rows or `flushEverySec` seconds to atomically
 * written chunk files in `<file>.partial/`. A later run with the same key reads them and computes
 * only the missing ids (pass `source` as a function of the done ids to skip decoding them too).
 * The final file is written atomically only once every sample is in, so a cache file under its
 * final name is always complete.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EngineError } from '../binding/errors.js';
import { DataError } from '../data/errors.js';
import { cleanStaleTemps, writeFileAtomic } from '../io/atomic.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { preprocess as applyPreprocess, type PreprocessName, type PreprocessSpec } from '../models/preprocess.js';
import { startProgress, type ProgressSetting } from '../models/progress.js';
import type { FeatureExtractor } from '../models/zoo.js';
import { fromBytes, selectRows } from '../tensor/create.js';
import { resolvePrecision, type Precision, type ResolvedPrecision } from '../tensor/precision.js';
import { autocast, noGrad, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { FEATURES_FORMAT, FeatureCache, featureCachePath, featureKeyHash, normalizeKey, type FeatureCacheKey } from './cache.js';

/** One batch of the source: sample ids and their images [B, 3, H, W]. The extractor disposes x. */
export interface FeatureBatch {
  ids: string[];
  x: Tensor;
}

type Batches = AsyncIterable<FeatureBatch> | Iterable<FeatureBatch>;

export interface ExtractOptions {
  model: FeatureExtractor;
  /** The batches, or a function that gets the ids already done (on resume) and returns them. */
  source: Batches | ((done: ReadonlySet<string>) => Batches);
  key: FeatureCacheKey;
  /** The cache file (default: featureCachePath(key, cacheDir)). */
  path?: string;
  /** The folder for the default path (default: <SALN_CACHE>/features). */
  cacheDir?: string;
  /** Applied to each x (RGB 0..255) before the model; null/undefined: x goes in as given. */
  preprocess?: PreprocessName | PreprocessSpec | null;
  /** The number of samples, for the progress bar and ETA, and checked at the end when given. */
  total?: number;
  /** Flush computed rows to a chunk file every this many rows (default 2048)… */
  chunkRows?: number;
  /** …or every this many seconds, whichever comes first (default 60). */
  flushEverySec?: number;
  progress?: ProgressSetting;
  /** Stops after the current batch, keeping what was computed (the promise rejects with an AbortError). */
  signal?: AbortSignal;
  /** Recompute even if a complete cache exists. */
  force?: boolean;
  /**
   * 'fp32' (default), 'bf16' (the model under bfloat16 autocast, channels-last), or 'auto' (bf16
   * where the device computes it natively, see resolvePrecision). The resolved precision becomes
   * part of the cache key; the cache always stores float32.
   */
  precision?: Precision | 'auto';
}

export interface ExtractResult {
  path: string;
  /** The precision the features were computed in (for a cached result: asked for). */
  precision: Precision;
  rows: number;
  dim: number;
  /** Rows computed in this run. */
  computed: number;
  /** Rows taken from an interrupted earlier run. */
  resumed: number;
  /** True when a complete cache was already there (nothing was computed). */
  cached: boolean;
}

interface Chunk {
  ids: string[];
  data: Float32Array;
  /** Seconds its call spent since the previous flush (0: not recorded, chunks of older versions). */
  seconds: number;
}

/** The autocast device type of a device string ('cuda:1' -> 'cuda'). */
function deviceType(device: string): 'cpu' | 'cuda' {
  return device.startsWith('cuda') ? 'cuda' : 'cpu';
}

/** fp32 keeps the model's layout; bf16 and auto lay it out as resolvePrecision's auto says. */
function extractionMode(precision: Precision | 'auto', device: string): ResolvedPrecision {
  return resolvePrecision(precision, precision === 'fp32' ? 'contiguous' : 'auto', device);
}

/** Whether every 4-D parameter of model is already channels-last. */
function isChannelsLast(model: FeatureExtractor): boolean {
  return model.parameters().every((p) => p.ndim !== 4 || p.isContiguous('channels-last'));
}

function abortError(): Error {
  const e = new Error('feature extraction aborted; run it again to resume');
  e.name = 'AbortError';
  return e;
}

function readChunks(dir: string, keyHash: string): Chunk[] {
  if (!existsSync(dir)) return [];
  const chunks: Chunk[] = [];
  for (const f of readdirSync(dir).filter((n) => /^chunk-\d+\.safetensors$/.test(n)).sort()) {
    const st = loadSafetensors(join(dir, f));
    try {
      const t = st.tensors.get('features');
      if (st.metadata.key_hash !== keyHash || !t) {
        throw new EngineError(`${join(dir, f)} belongs to another extraction (key hash ${st.metadata.key_hash}, expected ${keyHash}); delete ${dir}`);
      }
      const seconds = Number(st.metadata.seconds);
      chunks.push({ ids: JSON.parse(st.metadata.ids ?? '[]'), data: t.toTypedArray<'float32'>(), seconds: Number.isFinite(seconds) && seconds >= 0 ? seconds : 0 });
    } finally {
      for (const t of st.tensors.values()) t.dispose();
    }
  }
  return chunks;
}

/** Writes the complete cache: features [N, D] from the chunks' bytes, ids in the metadata; atomic. */
function writeFinal(path: string, chunks: Chunk[], dim: number, key: Record<string, unknown>, extra: Record<string, string>): number {
  const ids = chunks.flatMap((c) => c.ids);
  const rows = ids.length;
  const nbytes = rows * dim * 4;
  const metadata: Record<string, string> = {
    ...extra,
    saln_format: FEATURES_FORMAT,
    complete: 'true',
    rows: String(rows),
    dim: String(dim),
    key: JSON.stringify(key),
    ids: JSON.stringify(ids),
  };
  const header = { __metadata__: metadata, features: { dtype: 'F32', shape: [rows, dim], data_offsets: [0, nbytes] } };
  const raw = new TextEncoder().encode(JSON.stringify(header));
  const hj = new Uint8Array(raw.length + ((8 - (raw.length % 8)) % 8)).fill(0x20);
  hj.set(raw);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(hj.length), true);
  writeFileAtomic(path, [len, hj, ...chunks.map((c) => new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength))]);
  return rows;
}

/**
 * Throws a DataError naming the first sample whose input holds NaN or an infinity: its features
 * would be NaN, and a NaN row poisons every similarity computed from the cache later. Floating
 * inputs only (uint8 images cannot hold them); one reduction per batch.
 */
function checkFinitePixels(x: Tensor, ids: readonly string[]): void {
  if (x.dtype !== 'float32' && x.dtype !== 'float64' && x.dtype !== 'float16' && x.dtype !== 'bfloat16') return;
  const ok = tidy(() => x.isfinite().flatten(1).all(1).to({ device: 'cpu' }).toTypedArray<'bool'>());
  const bad = ok.findIndex((v) => v === 0);
  if (bad >= 0) {
    throw new DataError(`sample ${JSON.stringify(ids[bad])} has NaN or infinite pixel values: its features would be NaN (fix or drop that sample)`, { field: ids[bad] });
  }
}

/**
 * Computed rows on their way to chunk files in `dir`: they are flushed every so many rows or
 * seconds, and each chunk records the seconds its call spent since the previous flush, so a
 * resumed extraction can add up what the whole cache cost.
 */
class ChunkWriter {
  readonly chunks: Chunk[];
  #ids: string[] = [];
  #rows: Float32Array[] = [];
  #next: number;
  #flushedAt: number;

  /** `since`: when this call started (the first chunk's seconds count from it). */
  constructor(readonly dir: string, readonly keyHash: string, earlier: Chunk[], public dim: number, since: number) {
    this.chunks = earlier;
    this.#next = earlier.length;
    this.#flushedAt = since;
  }

  add(ids: string[], rows: Float32Array): void {
    this.#ids.push(...ids);
    this.#rows.push(rows);
  }

  /** Whether enough rows or time have gathered for a chunk. */
  due(chunkRows: number, flushMs: number): boolean {
    return this.#ids.length >= chunkRows || performance.now() - this.#flushedAt >= flushMs;
  }

  /** Writes the pending rows as the next chunk file (atomically, by saveSafetensors). */
  flush(): void {
    if (!this.#ids.length) return;
    mkdirSync(this.dir, { recursive: true });
    const data = new Float32Array(this.#ids.length * this.dim);
    let off = 0;
    for (const r of this.#rows) {
      data.set(r, off);
      off += r.length;
    }
    const seconds = (performance.now() - this.#flushedAt) / 1000;
    const t = fromBytes(new Uint8Array(data.buffer), [this.#ids.length, this.dim], 'float32');
    try {
      const name = `chunk-${String(this.#next++).padStart(6, '0')}.safetensors`;
      saveSafetensors(join(this.dir, name), { features: t }, { key_hash: this.keyHash, ids: JSON.stringify(this.#ids), seconds: seconds.toFixed(3) });
    } finally {
      t.dispose();
    }
    this.chunks.push({ ids: this.#ids, data, seconds });
    this.#flushedAt = performance.now();
    this.#ids = [];
    this.#rows = [];
  }
}

/**
 * The positions of a batch still to compute (ids not done), after checking the batch's shape and
 * ids: strings, none twice in the batch, none computed earlier in this run (ids restored from
 * chunks come again from a resumed source; that is how resume works).
 */
function rowsToCompute(batch: FeatureBatch, done: ReadonlySet<string>, computedIds: ReadonlySet<string>): number[] {
  const { ids, x } = batch;
  if (!Array.isArray(ids) || x.ndim !== 4 || ids.length !== x.shape[0]) {
    throw new EngineError(`feature source: a batch needs ids.length === x.shape[0] and x [B, C, H, W]; got ${ids?.length} ids and x [${x.shape.join(', ')}]`);
  }
  checkFinitePixels(x, ids);
  const rows: number[] = [];
  const seen = new Set<string>();
  ids.forEach((id, i) => {
    if (typeof id !== 'string') throw new EngineError(`feature source: sample ids must be strings, got ${JSON.stringify(id)}`);
    if (seen.has(id) || computedIds.has(id)) throw new EngineError(`feature source: duplicate sample id ${JSON.stringify(id)}`);
    seen.add(id);
    if (!done.has(id)) rows.push(i);
  });
  return rows;
}

/** How each batch goes through the model: where, preprocessed how, in which layout and precision. */
interface ForwardPlan {
  model: FeatureExtractor;
  device: string;
  preprocess?: PreprocessName | PreprocessSpec | null;
  channelsLast: boolean;
  precision: Precision;
}

/** The features of x's rows, float32 on the host, and their width. */
function forwardRows(plan: ForwardPlan, x: Tensor, rows: readonly number[]): { data: Float32Array; dim: number } {
  const feats = tidy(() => noGrad(() => {
    let xb = rows.length === x.shape[0] ? x : selectRows(x, rows);
    if (xb.device !== plan.device) xb = xb.to({ device: plan.device });
    if (plan.preprocess) xb = applyPreprocess(xb, plan.preprocess);
    else if (xb.dtype !== 'float32') xb = xb.float();
    if (plan.channelsLast) xb = xb.contiguous('channels-last');
    const forward = (): Tensor => plan.model.forwardFeatures(xb);
    const f = plan.precision === 'bf16' ? autocast({ dtype: 'bfloat16', device: deviceType(plan.device) }, forward) : forward();
    return f.to({ device: 'cpu', dtype: 'float32' }).contiguous();
  }));
  try {
    if (feats.ndim !== 2 || feats.shape[0] !== rows.length) {
      throw new EngineError(`forwardFeatures must return [B, D] for B = ${rows.length}; it returned [${feats.shape.join(', ')}]`);
    }
    return { data: feats.toTypedArray<'float32'>(), dim: feats.shape[1]! };
  } finally {
    feats.dispose();
  }
}

/** Puts the model in eval mode (and channels-last when asked); returns what puts it back. */
function enterExtraction(model: FeatureExtractor, channelsLast: boolean): () => void {
  const wasTraining = model.training;
  model.eval();
  const relayout = channelsLast && !isChannelsLast(model);
  if (relayout) model.toMemoryFormat('channels-last');
  return () => {
    model.train(wasTraining);
    if (relayout) model.toMemoryFormat('contiguous');
  };
}

/** Lets the event loop run: a source that only awaits resolved promises would otherwise starve signal handlers (Ctrl-C → abort) and the progress bar's redraw timer. */
const yieldToEventLoop = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

/** Runs every batch of the source through the model into the writer; returns the rows computed. */
async function extractBatches(o: ExtractOptions, plan: ForwardPlan, writer: ChunkWriter, done: Set<string>): Promise<number> {
  const chunkRows = o.chunkRows ?? 2048;
  const flushMs = (o.flushEverySec ?? 60) * 1000;
  const computedIds = new Set<string>();
  const bar = startProgress('features', o.total ?? 0, { setting: o.progress, units: 'img', start: Math.min(done.size, o.total ?? done.size) });
  const restore = enterExtraction(plan.model, plan.channelsLast);
  let computed = 0;
  try {
    const source = typeof o.source === 'function' ? o.source(done) : o.source;
    for await (const batch of source as AsyncIterable<FeatureBatch>) {
      try {
        const rows = rowsToCompute(batch, done, computedIds);
        if (rows.length) {
          const { data, dim } = forwardRows(plan, batch.x, rows);
          if (writer.dim === 0) writer.dim = dim;
          else if (dim !== writer.dim) throw new EngineError(`feature width changed from ${writer.dim} to ${dim}`);
          const ids = rows.map((r) => batch.ids[r]!);
          for (const id of ids) {
            done.add(id);
            computedIds.add(id);
          }
          writer.add(ids, data);
          computed += rows.length;
        }
        bar.increment(batch.ids.length);
      } finally {
        batch.x.dispose();
      }
      if (writer.due(chunkRows, flushMs)) writer.flush();
      await yieldToEventLoop();
      if (o.signal?.aborted) {
        writer.flush();
        throw abortError();
      }
    }
    writer.flush();
  } catch (e) {
    // Keep what was computed: the next run resumes from it.
    try {
      writer.flush();
    } catch {
      // the original error matters more
    }
    throw e;
  } finally {
    bar.stop();
    restore();
  }
  return computed;
}

/** Computes pooled features for every sample of source into the cache (see the file comment). */
export async function extractFeatures(o: ExtractOptions): Promise<ExtractResult> {
  const started = performance.now();
  const device = o.model.parameters()[0]?.device ?? 'cpu';
  const mode = extractionMode(o.precision ?? 'fp32', device);
  const precision = mode.precision;
  const fullKey: FeatureCacheKey = { ...o.key, precision };
  const keyHash = featureKeyHash(fullKey);
  const path = o.path ?? featureCachePath(fullKey, o.cacheDir);
  if (!o.force && existsSync(path)) {
    const c = FeatureCache.open(path);
    const r = { path, precision, rows: c.rows, dim: c.dim, computed: 0, resumed: 0, cached: true };
    c.dispose();
    return r;
  }
  const partialDir = `${path}.partial`;
  if (o.force) rmSync(partialDir, { recursive: true, force: true });
  // Temporaries of a killed earlier run (a chunk or the final file mid-write) are garbage.
  cleanStaleTemps(dirname(path));
  cleanStaleTemps(partialDir);
  const earlier = readChunks(partialDir, keyHash);
  const done = new Set<string>(earlier.flatMap((c) => c.ids));
  const resumed = done.size;
  // The seconds of earlier, interrupted calls (each chunk holds those since the previous flush).
  const earlierSeconds = earlier.reduce((a, c) => a + c.seconds, 0);
  const dim = earlier.length ? earlier[0]!.data.length / Math.max(earlier[0]!.ids.length, 1) : 0;
  const writer = new ChunkWriter(partialDir, keyHash, earlier, dim, started);
  const plan: ForwardPlan = { model: o.model, device, preprocess: o.preprocess, channelsLast: mode.memoryFormat === 'channels-last', precision };
  const computed = await extractBatches(o, plan, writer, done);
  if (o.total !== undefined && done.size !== o.total) {
    throw new EngineError(`feature source yielded ${done.size} distinct samples but total is ${o.total}; the computed rows are kept in ${partialDir} for a resume`);
  }
  if (done.size === 0) throw new EngineError('feature source yielded no samples');
  mkdirSync(dirname(path), { recursive: true });
  const rows = writeFinal(path, writer.chunks, writer.dim, normalizeKey(fullKey), {
    model: o.key.model, dataset: o.key.dataset, split: o.key.split, precision, key_hash: keyHash, created: new Date().toISOString(),
    // What computing the cache cost: this call's seconds and, for a resumed extraction, those its
    // earlier calls recorded in their chunks (the work after an interrupted call's last flush is lost, and not counted).
    seconds: (earlierSeconds + (performance.now() - started) / 1000).toFixed(3),
  });
  rmSync(partialDir, { recursive: true, force: true });
  return { path, precision, rows, dim: writer.dim, computed, resumed, cached: false };
}
