/**
 * PreparedSet: a split decoded once into a fixed-size uint8 NHWC file, plus its index. Batches
 * come out as uint8 tensors [B, H, W, 3]; the transforms turn them into model inputs.
 *
 * Two stores back it:
 * - in memory: the whole file as one engine tensor, gathered with indexSelect (CIFAR-10: 150 MB);
 * - on disk: each batch reads its rows with positional reads (libuv's thread pool) and holds only
 *   that batch (the full Oxford-IIIT Pet at 224 px is about 1.1 GB).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readRegularFile, readRegularText, regularFileSize } from '../io/files.js';
import { fromBytes, keep, tensor, type Tensor } from '../tensor/index.js';
import type { DatasetKind, SplitName } from './sources.js';
import type { ResizePolicy } from './decode.js';
import { DataError } from './errors.js';

/** The JSON index written next to each prepared data file. */
export interface PreparedIndex {
  format: 'saln-prepared';
  version: number;
  /** Content key: source fingerprint + size + resize policy (see cache.ts). */
  key: string;
  /** The sources' identity by bytes, without mtimes (see contentKey in cache.ts); absent in older caches. */
  contentKey?: string;
  kind: DatasetKind;
  split: SplitName;
  root: string;
  height: number;
  width: number;
  channels: 3;
  resize: ResizePolicy;
  kernel: string;
  classes: string[];
  /** Sample ids and labels, in row order. */
  ids: string[];
  labels: number[];
  /** Source files that failed to decode and are not in the file. */
  skipped: { path: string; reason: string }[];
  /** The data file's name, in the index's folder. */
  dataFile: string;
  dataBytes: number;
  createdAt: string;
}

interface Store {
  readonly inMemory: boolean;
  gather(rows: Int32Array): Promise<Tensor>;
  close(): Promise<void>;
}

class MemoryStore implements Store {
  readonly inMemory = true;
  #all: Tensor;
  constructor(all: Tensor) {
    this.#all = keep(all);
  }
  gather(rows: Int32Array): Promise<Tensor> {
    const idx = tensor(BigInt64Array.from(rows, (r) => BigInt(r)), { device: this.#all.device });
    try {
      return Promise.resolve(this.#all.indexSelect(0, idx));
    } finally {
      idx.dispose();
    }
  }
  async close(): Promise<void> {
    this.#all.dispose();
  }
}

class DiskStore implements Store {
  readonly inMemory = false;
  #fh: Promise<FileHandle>;
  constructor(private readonly path: string, private readonly shape: [number, number, number], private readonly device?: string) {
    this.#fh = open(path, 'r');
    this.#fh.catch(() => {});
  }
  async gather(rows: Int32Array): Promise<Tensor> {
    const fh = await this.#fh;
    const [h, w, c] = this.shape;
    const rowBytes = h * w * c;
    const buf = new Uint8Array(rows.length * rowBytes);
    // One positional read per row, all in flight at once: libuv's pool runs them in parallel.
    await Promise.all(Array.from(rows, async (r, i) => {
      let off = 0;
      while (off < rowBytes) {
        const { bytesRead } = await fh.read(buf, i * rowBytes + off, rowBytes - off, r * rowBytes + off);
        if (bytesRead === 0) throw new DataError(`${this.path} ended early at row ${r} (the cache is damaged: delete it to rebuild)`, { path: this.path });
        off += bytesRead;
      }
    }));
    const t = fromBytes(buf, [rows.length, h, w, c], 'uint8');
    if (this.device === undefined || this.device === 'cpu') return t;
    try {
      return t.to({ device: this.device });
    } finally {
      t.dispose();
    }
  }
  async close(): Promise<void> {
    await (await this.#fh).close();
  }
}

export interface OpenPreparedOptions {
  /** Hold the whole split in memory: true, false, or 'auto' (default: when it is ≤ memoryLimitBytes). */
  inMemory?: boolean | 'auto';
  /** The 'auto' threshold, 256 MiB by default. */
  memoryLimitBytes?: number;
  /** Where batches are placed (the in-memory store is placed there whole). Default 'cpu'. */
  device?: string;
}

/** A prepared index holds ids and labels: 256 MiB is millions of samples. */
const MAX_INDEX_BYTES = 256 * 1024 * 1024;

/** The fields PreparedSet.open relies on, so a damaged or foreign index fails with its field named. */
function checkIndex(index: PreparedIndex, path: string): void {
  const fail = (field: string, what: string): never => {
    throw new DataError(`${path}: ${field} ${what} (a damaged prepared index: delete it to rebuild)`, { path, field });
  };
  if (index === null || typeof index !== 'object' || index.format !== 'saln-prepared') throw new DataError(`${path} is not a saln prepared index`, { path });
  for (const f of ['height', 'width', 'channels', 'dataBytes'] as const) {
    if (!Number.isSafeInteger(index[f]) || index[f] < 0) fail(f, 'must be a non-negative integer');
  }
  if (!Array.isArray(index.ids) || !index.ids.every((i) => typeof i === 'string')) fail('ids', 'must be an array of strings');
  if (!Array.isArray(index.labels) || index.labels.length !== index.ids.length || !index.labels.every((l) => Number.isInteger(l) && l >= 0)) {
    fail('labels', 'must be one non-negative integer per id');
  }
  // The data file sits next to the index: a name with a folder in it would read elsewhere.
  if (typeof index.dataFile !== 'string' || index.dataFile === '' || basename(index.dataFile) !== index.dataFile || index.dataFile.startsWith('.')) {
    fail('dataFile', `must be a file name in the index's folder, not ${JSON.stringify(index.dataFile)}`);
  }
  if (!Array.isArray(index.skipped)) fail('skipped', 'must be an array');
}

export class PreparedSet {
  readonly index: PreparedIndex;
  readonly indexPath: string;
  readonly dataPath: string;
  /** Whether the cache already existed (true) or was built by this call (false). */
  readonly fromCache: boolean;
  /** Sample ids, in this set's order (a subset's own order). */
  readonly ids: string[];
  /** Class index of each sample. */
  readonly labels: Int32Array;
  #store: Store;
  /** Rows of the file that this set's positions map to. */
  #rows: Int32Array;

  private constructor(index: PreparedIndex, indexPath: string, dataPath: string, fromCache: boolean, store: Store, rows: Int32Array) {
    this.index = index;
    this.indexPath = indexPath;
    this.dataPath = dataPath;
    this.fromCache = fromCache;
    this.#store = store;
    this.#rows = rows;
    this.ids = Array.from(rows, (r) => index.ids[r]!);
    this.labels = Int32Array.from(rows, (r) => index.labels[r]!);
  }

  /** Opens a prepared index (written by prepareSplit) and its data file. */
  static open(indexPath: string, o: OpenPreparedOptions & { fromCache?: boolean } = {}): PreparedSet {
    let index: PreparedIndex;
    try {
      index = JSON.parse(readRegularText(indexPath, { maxBytes: MAX_INDEX_BYTES })) as PreparedIndex;
    } catch (e) {
      throw new DataError(`cannot read prepared index ${indexPath}: ${(e as Error).message.replace(`cannot read ${indexPath}: `, '')}`, { path: indexPath });
    }
    checkIndex(index, indexPath);
    const dataPath = join(dirname(indexPath), index.dataFile);
    let size: number;
    try {
      size = regularFileSize(dataPath);
    } catch (e) {
      throw new DataError(`${(e as Error).message} (the prepared index ${indexPath} names it)`, { path: dataPath });
    }
    const rowBytes = index.height * index.width * index.channels;
    if (size !== index.dataBytes || size !== index.ids.length * rowBytes) {
      throw new DataError(`${dataPath} is ${size} bytes but its index promises ${index.ids.length} rows of ${rowBytes} bytes (damaged cache)`, { path: dataPath });
    }
    const limit = o.memoryLimitBytes ?? 256 * 1024 * 1024;
    const inMemory = o.inMemory === undefined || o.inMemory === 'auto' ? size <= limit : o.inMemory;
    const shape: [number, number, number] = [index.height, index.width, index.channels];
    let store: Store;
    if (inMemory && index.ids.length > 0) {
      const bytes = readRegularFile(dataPath, { maxBytes: size });
      let all = fromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), [index.ids.length, ...shape], 'uint8');
      if (o.device !== undefined && o.device !== 'cpu') {
        const moved = all.to({ device: o.device });
        all.dispose();
        all = moved;
      }
      store = new MemoryStore(all);
    } else {
      store = new DiskStore(dataPath, shape, o.device);
    }
    const rows = new Int32Array(index.ids.length);
    for (let i = 0; i < rows.length; i++) rows[i] = i;
    return new PreparedSet(index, indexPath, dataPath, o.fromCache ?? true, store, rows);
  }

  get length(): number {
    return this.#rows.length;
  }
  get classes(): string[] {
    return this.index.classes;
  }
  get height(): number {
    return this.index.height;
  }
  get width(): number {
    return this.index.width;
  }
  get inMemory(): boolean {
    return this.#store.inMemory;
  }
  /** Files that failed to decode when the cache was built. */
  get skipped(): { path: string; reason: string }[] {
    return this.index.skipped;
  }

  /** A view on some of this set's samples (positions into this set), sharing its store. */
  subset(positions: ArrayLike<number>): PreparedSet {
    const rows = new Int32Array(positions.length);
    for (let i = 0; i < rows.length; i++) {
      const p = positions[i]!;
      if (!Number.isInteger(p) || p < 0 || p >= this.#rows.length) throw new RangeError(`subset: position ${p} is outside 0..${this.#rows.length - 1}`);
      rows[i] = this.#rows[p]!;
    }
    return new PreparedSet(this.index, this.indexPath, this.dataPath, this.fromCache, this.#store, rows);
  }

  /** The images at these positions as one uint8 tensor [B, H, W, 3]; the caller disposes it. */
  readBatch(positions: ArrayLike<number>): Promise<Tensor> {
    const rows = new Int32Array(positions.length);
    for (let i = 0; i < rows.length; i++) rows[i] = this.#rows[positions[i]!]!;
    return this.#store.gather(rows);
  }

  /** Samples per class, in class order. */
  classCounts(): number[] {
    const c = new Array<number>(this.classes.length).fill(0);
    for (const l of this.labels) c[l]!++;
    return c;
  }

  /** Frees the store (memory or file handle). Subsets share it: close the set they came from once. */
  close(): Promise<void> {
    return this.#store.close();
  }
}
