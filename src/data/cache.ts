/**
 * The prepared cache: each split decoded once, resized to a fixed size, stored as uint8 NHWC in
 * one file plus a JSON index. Epochs read that file and never decode again.
 *
 * Cache key. sha256 over: the format version; the kind, split and class list; every sample's id,
 * label and source file's size and mtime (or, with verify: 'content', the files' bytes); the
 * target size, resize policy and kernel. A changed source therefore has another key and is
 * rebuilt; a damaged data file (wrong length) is rebuilt too. Older caches of the same dataset,
 * split and size are deleted once the new one is written. 'stat' misses only an edit that keeps
 * both a file's size and its mtime; use 'content' where that can happen. The index also records
 * the sources' content key (their bytes, no mtimes): when only mtimes changed (a copy, a re-mount),
 * the old cache is indexed under the new key instead of being decoded again.
 *
 * Files live in `<cacheDir>/<kind>-<split>-<H>x<W>-<policy>-<root hash>[-first<N>][-content]-<key>.{u8,json}`, with
 * cacheDir = `$SALN_CACHE/prepared` (default ~/.cache/saln/prepared). Both are written to a
 * temporary name and renamed, the index last, so a reader sees a complete cache or none.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { basename, join } from 'node:path';
import { cleanStaleTemps, writeFileAtomic } from '../io/atomic.js';
import { readRegularFile, readRegularFileAsync, readRegularText } from '../io/files.js';
import { interpolate } from '../nn/functional.js';
import { fromBytes, tensor, tidy } from '../tensor/index.js';
import { decodeImage, RESIZE_KERNEL, type ResizePolicy } from './decode.js';
import { DataError, defaultWarn, type WarnFn } from './errors.js';
import { cacheDir } from '../cache-dir.js';
import { PreparedSet, type OpenPreparedOptions, type PreparedIndex } from './prepared.js';
import { CIFAR10_RECORD_BYTES, readCifarRecords, type DatasetSource, type SourceSample, type SplitName } from './sources.js';

export const PREPARED_VERSION = 1;


export interface PrepareOptions extends OpenPreparedOptions {
  /** Cache image size [height, width]; a number means square. */
  size: number | [number, number];
  /** How images are fitted to the size (see decode.ts). Default 'squash'. */
  resize?: ResizePolicy;
  /** Where prepared files go. Default `$SALN_CACHE/prepared`. */
  cacheDir?: string;
  /** Fail on the first image that does not decode, instead of skipping it with a warning. */
  strict?: boolean;
  /** How the cache key sees the sources: 'stat' (size + mtime, default) or 'content' (bytes). */
  verify?: 'stat' | 'content';
  /** Decodes in flight at once (default 8; libuv's pool, 4 threads unless UV_THREADPOOL_SIZE says otherwise). */
  concurrency?: number;
  /** Rebuild even when a valid cache exists. */
  force?: boolean;
  /** Only the first `limit` samples of the split (benchmarks, smoke runs). Part of the key. */
  limit?: number;
  /** Called as rows are written: (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Where warnings go (default: stderr). */
  warn?: WarnFn;
  /** The largest image file read, in bytes (default: $SALN_MAX_IMAGE_BYTES, else 64 MiB); a larger one is skipped. */
  maxImageBytes?: number;
}

/** Image files larger than this are skipped (or fail under strict) unless the limit is raised. */
export const DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024;

/** The image size limit: the option, else $SALN_MAX_IMAGE_BYTES, else DEFAULT_MAX_IMAGE_BYTES. */
export function maxImageBytes(o: { maxImageBytes?: number } = {}): number {
  if (o.maxImageBytes !== undefined) {
    if (!Number.isSafeInteger(o.maxImageBytes) || o.maxImageBytes < 1) throw new DataError(`Expected a whole number of bytes >= 1 for maxImageBytes but received ${o.maxImageBytes}`, { field: 'maxImageBytes' });
    return o.maxImageBytes;
  }
  const env = process.env.SALN_MAX_IMAGE_BYTES;
  if (env === undefined || env === '') return DEFAULT_MAX_IMAGE_BYTES;
  const v = Number(env);
  if (!/^\d+$/.test(env.trim()) || !Number.isSafeInteger(v) || v < 1) {
    throw new DataError(`SALN_MAX_IMAGE_BYTES must be a whole number of bytes >= 1, not ${JSON.stringify(env)}`, { field: 'SALN_MAX_IMAGE_BYTES' });
  }
  return v;
}

const LIMIT_HINT = 'raise it with --max-image-bytes or SALN_MAX_IMAGE_BYTES';

function sizeOf(o: PrepareOptions): [number, number] {
  const [h, w] = typeof o.size === 'number' ? [o.size, o.size] : o.size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1 || h > 4096 || w > 4096) {
    throw new RangeError(`Expected an integer between 1 and 4096 (or a pair of them) for size but received ${JSON.stringify(o.size)}`);
  }
  return [h, w];
}

/** The content key of a split's cache (see the file comment). */
export function cacheKey(src: DatasetSource, split: SplitName, samples: readonly SourceSample[], o: PrepareOptions): string {
  const verify = o.verify ?? 'stat';
  return sourcesKey(src, split, samples, o, verify, (st, bytes) => (verify === 'content' ? `${st.size}:${st.mtimeMs}:${bytes()}` : `${st.size}:${st.mtimeMs}`));
}

/**
 * The split's identity by its files' bytes alone: cacheKey with each file's hash in place of its
 * mtime. Stored in the index, so that the same files under new mtimes (a copy, a re-mount) reuse
 * the cache instead of decoding the split again, and what derived caches (features) are keyed on.
 */
export function contentKey(src: DatasetSource, split: SplitName, samples: readonly SourceSample[], o: PrepareOptions): string {
  return sourcesKey(src, split, samples, o, 'bytes', (st, bytes) => `${st.size}:${bytes()}`);
}

type Fingerprint = (st: Stats, bytes: () => string) => string;

function sourcesKey(src: DatasetSource, split: SplitName, samples: readonly SourceSample[], o: PrepareOptions, verify: string, fingerprint: Fingerprint): string {
  const [h, w] = sizeOf(o);
  const limit = src.kind === 'cifar10-bin' ? Number.MAX_SAFE_INTEGER : maxImageBytes(o);
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ v: PREPARED_VERSION, kind: src.kind, split, classes: src.classes, h, w, resize: o.resize ?? 'squash', kernel: RESIZE_KERNEL, verify }));
  const seen = new Map<string, string>();
  const of = (p: string): string => {
    let s = seen.get(p);
    if (s === undefined) {
      try {
        const st = statSync(p);
        // Only regular files are read: a FIFO would block here and /dev/zero never end.
        s = fingerprint(st, () => (st.isFile() ? createHash('sha256').update(readRegularFile(p, { maxBytes: limit })).digest('hex') : 'not-regular'));
      } catch {
        s = 'unreadable';
      }
      seen.set(p, s);
    }
    return s;
  };
  for (const s of samples) hash.update(`${s.id}\0${s.label}\0${s.record ?? ''}\0${of(s.path)}\n`);
  return hash.digest('hex');
}

/**
 * A cache this one replaces whose sources have the same bytes (only their mtimes changed): it is
 * indexed again under the new key, without decoding anything. Undefined when there is none.
 */
function adoptUnchanged(dir: string, stale: readonly string[], current: () => string, key: string, indexPath: string, o: OpenPreparedOptions): PreparedSet | undefined {
  for (const f of stale.filter((n) => n.endsWith('.json'))) {
    let old: PreparedIndex;
    try {
      old = JSON.parse(readRegularText(join(dir, f))) as PreparedIndex;
    } catch {
      continue;
    }
    if (typeof old.contentKey !== 'string' || old.contentKey !== current()) continue;
    writeFileAtomic(indexPath, [Buffer.from(JSON.stringify({ ...old, key }))]);
    try {
      const set = PreparedSet.open(indexPath, { ...o, fromCache: true });
      try { unlinkSync(join(dir, f)); } catch { /* raced with another cleaner */ }
      return set;
    } catch {
      unlinkSync(indexPath); // its data file is damaged: rebuilt as any other stale cache
    }
  }
  return undefined;
}

/** The cache at indexPath when it holds this key (undefined: absent, another key, or damaged, with a warning). */
async function openCached(indexPath: string, key: string, split: SplitName, openOpts: OpenPreparedOptions, warn: WarnFn): Promise<PreparedSet | undefined> {
  if (!existsSync(indexPath)) return undefined;
  try {
    const set = PreparedSet.open(indexPath, { ...openOpts, fromCache: true });
    if (set.index.key === key) {
      if (set.skipped.length > 0) warn(`${set.skipped.length} file(s) of ${split} were skipped when ${basename(indexPath)} was built (listed in its "skipped"), e.g. ${set.skipped[0]!.path}: ${set.skipped[0]!.reason}`);
      return set;
    }
    await set.close();
  } catch (e) {
    warn(`rebuilding the damaged cache ${indexPath}: ${(e as Error).message}`);
  }
  return undefined;
}

interface WrittenRows {
  ids: string[];
  labels: number[];
  skipped: { path: string; reason: string }[];
  bytes: number;
}

/** Decodes and resizes every sample into dataPath (through a temporary renamed into place, fsynced first). */
async function writeDataFile(dataPath: string, kind: DatasetSource['kind'], samples: readonly SourceSample[], h: number, w: number, resize: ResizePolicy, o: PrepareOptions, warn: WarnFn): Promise<WrittenRows> {
  const tmp = `${dataPath}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'w');
  const rows: WrittenRows = { ids: [], labels: [], skipped: [], bytes: 0 };
  const write = (data: Uint8Array): void => {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    rows.bytes += data.length;
  };
  try {
    if (kind === 'cifar10-bin') writeCifarRows(samples, h, w, resize, write, rows.ids, rows.labels, o);
    else await writeDecodedRows(samples, h, w, resize, write, rows.ids, rows.labels, rows.skipped, o, warn);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, dataPath);
  return rows;
}

/**
 * Prepares one split of a dataset: reuses a valid cache, else decodes every sample with sharp,
 * resizes it to `size` and writes the cache. Corrupt or unreadable images are skipped with a
 * warning naming the file (or fail the call under `strict`).
 */
export async function prepareSplit(src: DatasetSource, split: SplitName, o: PrepareOptions): Promise<PreparedSet> {
  const all = src.splits[split];
  if (all === undefined) throw new DataError(`dataset ${src.root} has no ${split} split (it has ${Object.keys(src.splits).join(', ')})`, { path: src.root });
  const samples = o.limit !== undefined ? all.slice(0, o.limit) : all;
  const [h, w] = sizeOf(o);
  const resize = o.resize ?? 'squash';
  const warn = o.warn ?? defaultWarn;
  const dir = o.cacheDir ?? join(cacheDir(), 'prepared');
  mkdirSync(dir, { recursive: true });
  maxImageBytes(o); // a bad limit fails before any work
  // Temporaries of a killed earlier prepare (never renamed into place) are garbage.
  for (const f of cleanStaleTemps(dir)) warn(`removed ${join(dir, f)}, left by an interrupted prepare`);
  const key = cacheKey(src, split, samples, o);
  const rootHash = createHash('sha256').update(src.root).digest('hex').slice(0, 8);
  const slug = `${src.kind}-${split}-${h}x${w}-${resize}-${rootHash}${o.limit !== undefined ? `-first${o.limit}` : ''}${o.verify === 'content' ? '-content' : ''}`;
  const name = `${slug}-${key.slice(0, 16)}`;
  const indexPath = join(dir, `${name}.json`);
  const dataPath = join(dir, `${name}.u8`);
  const openOpts: OpenPreparedOptions = { inMemory: o.inMemory, memoryLimitBytes: o.memoryLimitBytes, device: o.device };

  const cached = o.force ? undefined : await openCached(indexPath, key, split, openOpts, warn);
  if (cached !== undefined) return cached;
  // Same dataset, split, size and policy, another key: the caches this one replaces.
  const stale = readdirSync(dir).filter((f) => f.startsWith(`${slug}-`) && !f.startsWith(name) && /^[0-9a-f]{16}\.(json|u8)$/.test(f.slice(slug.length + 1)));
  let content: string | undefined;
  const currentContent = (): string => (content ??= contentKey(src, split, samples, o));
  const adopted = o.force ? undefined : adoptUnchanged(dir, stale, currentContent, key, indexPath, openOpts);
  if (adopted !== undefined) return adopted;
  if (stale.some((f) => f.endsWith('.json'))) warn(`the ${split} split of ${src.root} changed since it was prepared: rebuilding its cache`);

  const { ids, labels, skipped, bytes } = await writeDataFile(dataPath, src.kind, samples, h, w, resize, o, warn);
  const index: PreparedIndex = {
    format: 'saln-prepared', version: PREPARED_VERSION, key, contentKey: currentContent(), kind: src.kind, split, root: src.root, height: h, width: w, channels: 3,
    resize, kernel: RESIZE_KERNEL, classes: src.classes, ids, labels, skipped, dataFile: basename(dataPath), dataBytes: bytes,
    createdAt: new Date().toISOString(),
  };
  writeFileAtomic(indexPath, [Buffer.from(JSON.stringify(index))]);
  for (const f of stale) {
    try { unlinkSync(join(dir, f)); } catch { /* raced with another cleaner */ }
  }
  if (skipped.length > 0) warn(`skipped ${skipped.length} of ${samples.length} ${split} image(s) that could not be read or decoded (the first: ${skipped[0]!.path}: ${skipped[0]!.reason})`);
  return PreparedSet.open(indexPath, { ...openOpts, fromCache: false });
}

/** Prepares every split the source has. */
export async function prepareDataset(src: DatasetSource, o: PrepareOptions): Promise<Partial<Record<SplitName, PreparedSet>>> {
  const out: Partial<Record<SplitName, PreparedSet>> = {};
  for (const split of Object.keys(src.splits) as SplitName[]) out[split] = await prepareSplit(src, split, o);
  return out;
}

/** Why one image was left out: it could not be read (not a regular file, too big) or not decoded. */
class ImageFailure extends Error {
  constructor(readonly stage: 'read' | 'decode', message: string) {
    super(message);
  }
}

async function readAndDecode(path: string, limit: number, h: number, w: number, resize: ResizePolicy): Promise<Uint8Array | ImageFailure> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFileAsync(path, limit, LIMIT_HINT);
  } catch (e) {
    return new ImageFailure('read', (e as Error).message);
  }
  try {
    return (await decodeImage(bytes, { size: [h, w], resize })).data;
  } catch (e) {
    return new ImageFailure('decode', e instanceof Error ? e.message : String(e));
  }
}

async function writeDecodedRows(
  samples: readonly SourceSample[], h: number, w: number, resize: ResizePolicy, write: (d: Uint8Array) => void,
  ids: string[], labels: number[], skipped: { path: string; reason: string }[], o: PrepareOptions, warn: WarnFn,
): Promise<void> {
  const conc = Math.max(1, o.concurrency ?? 8);
  const limit = maxImageBytes(o);
  const CHUNK = 256;
  for (let start = 0; start < samples.length; start += CHUNK) {
    const chunk = samples.slice(start, start + CHUNK);
    const results: (Uint8Array | ImageFailure)[] = new Array(chunk.length);
    let next = 0;
    // Reading the file into memory first, then decoding from the buffer, is faster in sharp than
    // handing it the path. The read takes only a regular file under the limit (never a FIFO or a device).
    const worker = async (): Promise<void> => {
      while (next < chunk.length) {
        const i = next++;
        results[i] = await readAndDecode(chunk[i]!.path, limit, h, w, resize);
      }
    };
    await Promise.all(Array.from({ length: Math.min(conc, chunk.length) }, worker));
    for (let i = 0; i < chunk.length; i++) {
      const r = results[i]!;
      const s = chunk[i]!;
      if (r instanceof ImageFailure) {
        const reason = r.message.split('\n')[0]!;
        if (o.strict) throw new DataError(`cannot ${r.stage} ${s.path}: ${reason}`, { path: s.path });
        warn(`skipping ${s.path}: ${reason}`);
        skipped.push({ path: s.path, reason });
        continue;
      }
      write(r);
      ids.push(s.id);
      labels.push(s.label);
    }
    o.onProgress?.(Math.min(start + CHUNK, samples.length), samples.length);
  }
}

/** Binary CIFAR-10: planar CHW records become NHWC rows with engine ops (and are resized if asked). */
function writeCifarRows(
  samples: readonly SourceSample[], h: number, w: number, resize: ResizePolicy, write: (d: Uint8Array) => void,
  ids: string[], labels: number[], o: PrepareOptions,
): void {
  // Group consecutive samples of the same file, and read their records in one go.
  let i = 0;
  while (i < samples.length) {
    const path = samples[i]!.path;
    let j = i;
    while (j < samples.length && samples[j]!.path === path) j++;
    const group = samples.slice(i, j);
    const first = Math.min(...group.map((s) => s.record!));
    const last = Math.max(...group.map((s) => s.record!));
    const raw = readCifarRecords(path, first, last - first + 1);
    const rows = tidy(() => {
      const all = fromBytes(raw, [last - first + 1, CIFAR10_RECORD_BYTES], 'uint8');
      const pick = all.indexSelect(0, tensor(BigInt64Array.from(group, (s) => BigInt(s.record! - first))));
      let x = pick.narrow(1, 1, 3 * 32 * 32).reshape(group.length, 3, 32, 32);
      if (h !== 32 || w !== 32) {
        let f = x.float();
        if (resize === 'crop' && h !== w) {
          const s = Math.max(h, w);
          f = interpolate(f, [s, s], { antialias: true });
          f = f.narrow(2, Math.floor((s - h) / 2), h).narrow(3, Math.floor((s - w) / 2), w);
        } else {
          f = interpolate(f, [h, w], { antialias: true });
        }
        x = f.round().clamp(0, 255).to('uint8');
      }
      return x.permute(0, 2, 3, 1).contiguous().toTypedArray<'uint8'>();
    });
    write(rows);
    for (const s of group) {
      ids.push(s.id);
      labels.push(s.label);
    }
    o.onProgress?.(j, samples.length);
    i = j;
  }
}
