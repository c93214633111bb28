/** Tensor factories, joins, and the engine's global settings (seed, threads, CUDA). */
import { native, type CpuCacheStats } from '../binding/binding.js';
import { EngineError } from '../binding/errors.js';
import { DTYPE_CODES, dtypeOfArray, type DType } from './dtype.js';
import { Tensor, type Device } from './tensor.js';
import { checkInt, checkShape, invalid } from './validate.js';

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
}

function code(o: CreateOptions, fallback: DType = 'float32'): number {
  const d = o.dtype ?? fallback;
  const c = DTYPE_CODES[d];
  if (c === undefined) throw invalid(`one of ${Object.keys(DTYPE_CODES).join(', ')}`, 'dtype', d);
  return c;
}

/**
 * Makes a tensor from a typed array (copied) or nested/plain numbers.
 * `tensor(new Float32Array(6), { shape: [2, 3] })`, `tensor([1, 2, 3], { dtype: 'int64' })`.
 */
export function tensor(data: ArrayBufferView | number[] | number[][], opts: CreateOptions & { shape?: number[] } = {}): Tensor {
  let arr: ArrayBufferView;
  let shape = opts.shape;
  if (ArrayBuffer.isView(data)) {
    arr = data;
    const len = (data as unknown as { length: number }).length;
    shape ??= [len];
    const dtype = opts.dtype ?? dtypeOfArray(data);
    const n = checkShape(shape, 'shape').reduce((a, b) => a * b, 1);
    if (n !== len) throw new EngineError(`tensor: shape [${shape.join(', ')}] needs ${n} elements but the array has ${len}`);
    // A typed array of another element type than dtype is converted through the matching array.
    if (dtypeOfArray(data) !== dtype && !(dtype === 'bool' && data instanceof Uint8Array)) {
      return tensor(Array.from(data as unknown as ArrayLike<number>, Number), { ...opts, shape });
    }
    return new Tensor(native.fromBuffer(arr, shape, code(opts, dtype), opts.device));
  }
  const flat: number[] = [];
  const inferred: number[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (Array.isArray(v)) {
      if (inferred[depth] === undefined) inferred[depth] = v.length;
      else if (inferred[depth] !== v.length) throw new EngineError(`tensor: ragged nested array at depth ${depth}`);
      for (const x of v) walk(x, depth + 1);
    } else if (typeof v === 'number' || typeof v === 'boolean') flat.push(Number(v));
    else throw invalid('numbers or nested arrays of numbers', 'tensor(data)', v);
  };
  walk(data, 0);
  shape ??= inferred;
  const dtype = opts.dtype ?? 'float32';
  let buf: ArrayBufferView;
  switch (dtype) {
    case 'float64': buf = Float64Array.from(flat); break;
    case 'int64': buf = BigInt64Array.from(flat, (x) => BigInt(Math.trunc(x))); break;
    case 'int32': buf = Int32Array.from(flat); break;
    case 'uint8': case 'bool': buf = Uint8Array.from(flat); break;
    case 'int8': buf = Int8Array.from(flat); break;
    case 'int16': buf = Int16Array.from(flat); break;
    case 'float32': buf = Float32Array.from(flat); break;
    default: {
      const t = tensor(Float32Array.from(flat), { shape, device: opts.device });
      const out = t.to(dtype);
      t.dispose();
      return out;
    }
  }
  return new Tensor(native.fromBuffer(buf, shape, code(opts, dtype), opts.device));
}

/** Makes a tensor from raw little-endian bytes (file formats: safetensors, .npy). */
export function fromBytes(bytes: Uint8Array, shape: number[], dtype: DType, device?: Device): Tensor {
  return new Tensor(native.fromBuffer(bytes, checkShape(shape, 'shape'), code({ dtype }), device));
}

export function zeros(shape: number[], opts: CreateOptions = {}): Tensor {
  return new Tensor(native.zeros(checkShape(shape, 'shape'), code(opts), opts.device));
}
export function ones(shape: number[], opts: CreateOptions = {}): Tensor {
  return new Tensor(native.ones(checkShape(shape, 'shape'), code(opts), opts.device));
}
export function full(shape: number[], value: number | boolean, opts: CreateOptions = {}): Tensor {
  return new Tensor(native.full(checkShape(shape, 'shape'), value, code(opts), opts.device));
}
export function empty(shape: number[], opts: CreateOptions = {}): Tensor {
  return new Tensor(native.empty(checkShape(shape, 'shape'), code(opts), opts.device));
}
export function eye(n: number, opts: CreateOptions = {}): Tensor {
  return new Tensor(native.eye(checkInt(n, 'n', 0), code(opts), opts.device));
}
/** Standard normal samples from the global generator (seed it with manualSeed). */
export function randn(shape: number[], opts: CreateOptions = {}): Tensor {
  return new Tensor(native.randn(checkShape(shape, 'shape'), code(opts), opts.device));
}
/** Uniform samples in [0, 1). */
export function rand(shape: number[], opts: CreateOptions = {}): Tensor {
  return new Tensor(native.rand(checkShape(shape, 'shape'), code(opts), opts.device));
}
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: number[], opts: CreateOptions = {}): Tensor {
  checkInt(low, 'low');
  checkInt(high, 'high', low + 1);
  return new Tensor(native.randint(low, high, checkShape(shape, 'shape'), code(opts, 'int64'), opts.device));
}
export function randperm(n: number, opts: CreateOptions = {}): Tensor {
  return new Tensor(native.randperm(checkInt(n, 'n', 0), code(opts, 'int64'), opts.device));
}
/** Values from start to end (exclusive) by step. dtype defaults to int64 for integral arguments. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  const integral = [start, end, step].every(Number.isInteger);
  return new Tensor(native.arange(start, end, step, code(opts, integral ? 'int64' : 'float32'), opts.device));
}
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  return new Tensor(native.linspace(start, end, checkInt(steps, 'steps', 0), code(opts), opts.device));
}
/** Draws n indices per row from the probabilities in probs (torch.multinomial). */
export function multinomial(probs: Tensor, n: number, replacement = false): Tensor {
  return new Tensor(native.multinomial(probs.handle, checkInt(n, 'n', 1), replacement));
}
export function bernoulli(p: Tensor): Tensor {
  return new Tensor(native.bernoulli(p.handle));
}

export function cat(ts: Tensor[], dim = 0): Tensor {
  if (ts.length === 0) throw invalid('a non-empty array of tensors', 'cat(tensors)', ts);
  return new Tensor(native.cat(ts.map((t) => t.handle), dim < 0 ? dim + ts[0]!.ndim : dim));
}
export function stack(ts: Tensor[], dim = 0): Tensor {
  if (ts.length === 0) throw invalid('a non-empty array of tensors', 'stack(tensors)', ts);
  return new Tensor(native.stack(ts.map((t) => t.handle), dim < 0 ? dim + ts[0]!.ndim + 1 : dim));
}
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  return new Tensor(native.where(cond.handle, a.handle, b.handle));
}
/** t's rows (dim 0) at these positions, in this order: t.indexSelect(0, ·) from a plain index list. */
export function selectRows(t: Tensor, rows: ArrayLike<number>): Tensor {
  const idx = tensor(Array.from(rows), { dtype: 'int64', device: t.device });
  try {
    return t.indexSelect(0, idx);
  } finally {
    idx.dispose();
  }
}
/** Symmetric eigendecomposition: eigenvalues ascending, eigenvectors as columns (torch.linalg.eigh). */
export function eigh(a: Tensor): [Tensor, Tensor] {
  if (a.ndim < 2 || a.shape[a.ndim - 1] !== a.shape[a.ndim - 2]) {
    throw new EngineError(`eigh: expected a square matrix (or a batch of them), got shape [${a.shape.join(', ')}]`);
  }
  const [w, v] = native.eigh(a.handle);
  return [new Tensor(w), new Tensor(v)];
}

/** Seeds the global generator (CPU, and every CUDA device when present). */
export function manualSeed(seed: number): void {
  native.manualSeed(checkInt(seed, 'seed', 0));
}
/** Sets libtorch's intra-op threads; the addon starts at defaultNumThreads(). */
export function setNumThreads(n: number): void {
  native.setNumThreads(checkInt(n, 'n', 1));
}
/**
 * saln's one thread policy (native/src/runtime.cc), applied when the addon loads:
 * OMP_NUM_THREADS when set, else every core the process may use. Restore it with
 * setNumThreads(defaultNumThreads()).
 */
export function defaultNumThreads(): number {
  return native.defaultNumThreads();
}
export function getNumThreads(): number {
  return native.getNumThreads();
}
export function isCudaAvailable(): boolean {
  return native.isCudaAvailable();
}
export function cudaDeviceCount(): number {
  return native.cudaDeviceCount();
}
/** Turns TF32 in cuDNN/cuBLAS on or off (off for bit-accurate conformance checks). */
export function setAllowTf32(on: boolean): void {
  native.setCudnnTf32(on);
}
export function engineInfo(): { torch: string; parallel: string } {
  return native.versionInfo();
}
/**
 * Counters of the caching CPU allocator, which keeps freed blocks of 1 MiB and up for the next
 * batch: at most SALN_CPU_CACHE_MB of them (default a quarter of RAM), the least recently freed
 * leaving first (0 turns the allocator off).
 */
export function cpuCacheStats(): CpuCacheStats {
  return native.cpuCacheStats();
}
/** Returns the CPU allocator's cached free blocks to the system (torch.cuda.empty_cache's CPU twin). */
export function emptyCpuCache(): void {
  native.emptyCpuCache();
}
