/**
 * Loads the native addon (build/Release/saln_native.node) and describes its raw interface.
 * Nothing else in saln touches the addon directly: src/tensor wraps every call.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError } from './errors.js';

/** An opaque native tensor handle (a type-tagged N-API External). */
export type NativeHandle = { readonly __brand: 'NativeHandle' };
type H = NativeHandle;
type Num = number;

/** The caching CPU allocator's counters (native/src/cpu_allocator.cc); blocks of 1 MiB and up only. */
export interface CpuCacheStats {
  /** False when SALN_CPU_CACHE_MB=0 left libtorch's own allocator in place. */
  installed: boolean;
  /** Bytes held by live tensors. */
  allocatedBytes: number;
  /** Bytes freed and kept for reuse. */
  cachedBytes: number;
  /** The most allocatedBytes has been. */
  peakBytes: number;
  /** Requests served from the cache. */
  hits: number;
  /** Requests that needed new memory. */
  misses: number;
}

/** A name -> code table of the addon (native/src/op_tables.h). */
export type OpCodeTable = Readonly<Record<string, number>>;

/**
 * The addon's op-code tables, declared once in native/src/op_tables.h and read from the addon at
 * load: op codes (unary, binary, …) and libtorch's values of enumerated arguments (memoryFormat, …).
 */
export interface OpCodes {
  unary: OpCodeTable;
  unaryInplace: OpCodeTable;
  binary: OpCodeTable;
  reduce: OpCodeTable;
  inplace: OpCodeTable;
  dtype: OpCodeTable;
  memoryFormat: OpCodeTable;
  reduction: OpCodeTable;
  gridMode: OpCodeTable;
  gridPadding: OpCodeTable;
}

/** The addon's exports. Arguments are validated in TypeScript before they get here. */
export interface NativeBinding {
  readonly opCodes: OpCodes;
  setErrorClass(cls: new (message: string) => Error): void;
  manualSeed(seed: Num): void;
  setNumThreads(n: Num): void;
  getNumThreads(): Num;
  /** The thread policy (native/src/runtime.cc): OMP_NUM_THREADS if set, else every core. */
  defaultNumThreads(): Num;
  isCudaAvailable(): boolean;
  cudaDeviceCount(): Num;
  /** The current CUDA device computes in bfloat16 natively (compute capability >= 8.0). */
  cudaBf16Supported(): boolean;
  setCudnnTf32(on: boolean): void;
  versionInfo(): { torch: string; parallel: string };
  cpuCacheStats(): CpuCacheStats;
  emptyCpuCache(): void;
  // creation and lifetime
  fromBuffer(data: ArrayBufferView, shape: Num[], dtype: Num, device?: string): H;
  toBuffer(t: H): ArrayBuffer;
  item(t: H): number | boolean;
  meta(t: H): [Num[], Num, string, boolean];
  shapeOf(t: H): Num[];
  dispose(t: H): void;
  isDisposed(t: H): boolean;
  /** Marks the tensors created from now on as owned by a tidy() scope (not reported to V8); returns the previous state. */
  setScoped(on: boolean): boolean;
  /** Reports a scope-owned tensor's host memory to V8 once it outlives every scope. */
  reportExternal(t: H): void;
  reportedBytes(t: H): number;
  full(shape: Num[], value: number | boolean, dtype: Num, device?: string): H;
  zeros(shape: Num[], dtype: Num, device?: string): H;
  ones(shape: Num[], dtype: Num, device?: string): H;
  empty(shape: Num[], dtype: Num, device?: string): H;
  eye(n: Num, dtype: Num, device?: string): H;
  arange(start: Num, end: Num, step: Num, dtype: Num, device?: string): H;
  linspace(start: Num, end: Num, steps: Num, dtype: Num, device?: string): H;
  randn(shape: Num[], dtype: Num, device?: string): H;
  rand(shape: Num[], dtype: Num, device?: string): H;
  randint(low: Num, high: Num, shape: Num[], dtype: Num, device?: string): H;
  randperm(n: Num, dtype: Num, device?: string): H;
  bernoulli(p: H): H;
  multinomial(probs: H, n: Num, replacement: boolean): H;
  uniform_(t: H, lo: Num, hi: Num): void;
  normal_(t: H, mean: Num, std: Num): void;
  fill_(t: H, v: number | boolean): void;
  zero_(t: H): void;
  copy_(dst: H, src: H): void;
  to(t: H, dtype: Num | null, device: string | null, copy: boolean, memoryFormat?: Num): H;
  clone(t: H): H;
  detach(t: H): H;
  contiguous(t: H, memoryFormat: Num): H;
  isContiguous(t: H, memoryFormat: Num): boolean;
  // math
  unary(code: Num, t: H): H;
  unaryInplace(code: Num, t: H): void;
  binary(code: Num, a: H, b: H | number | boolean): H;
  inplace(code: Num, a: H, b: H | number, alpha?: Num): void;
  addcmul_(a: H, b: H, c: H, value: Num): void;
  addcdiv_(a: H, b: H, c: H, value: Num): void;
  clamp(t: H, min: Num | null, max: Num | null): H;
  where(cond: H, a: H, b: H): H;
  maskedFill(t: H, mask: H, value: number | boolean): H;
  reduce(code: Num, t: H, dims: Num[], keepdim: boolean): H;
  variance(t: H, dims: Num[], unbiased: Num, keepdim: boolean, std: boolean): H;
  argmax(t: H, dim: Num | null, keepdim: boolean): H;
  argmin(t: H, dim: Num | null, keepdim: boolean): H;
  vectorNorm(t: H, ord: Num, dims: Num[], keepdim: boolean): H;
  cumsum(t: H, dim: Num): H;
  matmul(a: H, b: H): H;
  linear(x: H, w: H, b: H | null): H;
  eigh(t: H): [H, H];
  topk(t: H, k: Num, dim: Num, largest: boolean, sorted: boolean): [H, H];
  sort(t: H, dim: Num, descending: boolean, stable: boolean): [H, H];
  // shape
  reshape(t: H, shape: Num[]): H;
  view(t: H, shape: Num[]): H;
  permute(t: H, dims: Num[]): H;
  transpose(t: H, a: Num, b: Num): H;
  expand(t: H, shape: Num[]): H;
  repeat(t: H, reps: Num[]): H;
  flatten(t: H, start: Num, end: Num): H;
  squeeze(t: H, dim?: Num): H;
  unsqueeze(t: H, dim: Num): H;
  flip(t: H, dims: Num[]): H;
  cat(ts: H[], dim: Num): H;
  stack(ts: H[], dim: Num): H;
  narrow(t: H, dim: Num, start: Num, length: Num): H;
  slice(t: H, dim: Num, start: Num, end: Num, step: Num): H;
  select(t: H, dim: Num, index: Num): H;
  indexSelect(t: H, dim: Num, index: H): H;
  gather(t: H, dim: Num, index: H): H;
  scatter(t: H, dim: Num, index: H, src: H): H;
  maskedSelect(t: H, mask: H): H;
  nonzero(t: H): H;
  oneHot(t: H, numClasses: Num): H;
  tril(t: H, diagonal: Num): H;
  diag(t: H, diagonal: Num): H;
  diagEmbed(t: H): H;
  // nn
  conv2d(x: H, w: H, b: H | null, stride: Num[], padding: Num[], dilation: Num[], groups: Num): H;
  conv2dIm2col(x: H, w: H, b: H | null, stride: Num[], padding: Num[], forwardByMatmul: boolean, inputGradByFold: boolean): H;
  batchNorm(x: H, w: H | null, b: H | null, rm: H | null, rv: H | null, training: boolean, momentum: Num, eps: Num): H;
  maxPool2d(x: H, kernel: Num[], stride: Num[], padding: Num[], dilation: Num[], ceilMode: boolean): H;
  avgPool2d(x: H, kernel: Num[], stride: Num[], padding: Num[], ceilMode: boolean, countIncludePad: boolean): H;
  adaptiveAvgPool2d(x: H, size: Num[]): H;
  softmax(x: H, dim: Num): H;
  logSoftmax(x: H, dim: Num): H;
  dropout(x: H, p: Num, train: boolean): H;
  crossEntropy(logits: H, target: H, weight: H | null, reduction: Num, ignoreIndex: Num, labelSmoothing: Num): H;
  nllLoss(logp: H, target: H, weight: H | null, reduction: Num, ignoreIndex: Num): H;
  mseLoss(a: H, b: H, reduction: Num): H;
  affineGrid(theta: H, size: Num[], alignCorners: boolean): H;
  gridSample(x: H, grid: H, mode: Num, padding: Num, alignCorners: boolean): H;
  interpolateBilinear(x: H, size: Num[], alignCorners: boolean, antialias: boolean): H;
  interpolateNearest(x: H, size: Num[]): H;
  constantPad(x: H, pads: Num[], value: Num): H;
  // autograd
  setRequiresGrad(t: H, on: boolean): void;
  gradFnName(t: H): string | null;
  backward(t: H, grad: H | null, retainGraph: boolean): void;
  grad(t: H): H | null;
  clearGrad(t: H): void;
  setData(t: H, src: H): void;
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  // autocast (native/src/amp.cc)
  /** Sets the device's autocast state and enters one nesting level; returns the previous [enabled, dtypeCode]. */
  autocastEnter(device: 'cpu' | 'cuda', enabled: boolean, dtype: Num): [boolean, Num];
  /** Leaves a nesting level (clearing the cast cache at the outermost) and restores [enabled, dtypeCode]. */
  autocastExit(device: 'cpu' | 'cuda', enabled: boolean, dtype: Num): void;
  autocastState(device: 'cpu' | 'cuda'): [boolean, Num];
  // distributed (native/src/dist.cc): only distAvailable() exists in a build without c10d
  distAvailable(): boolean;
  distBackends(): string[];
  distInit(o: NativeDistInit): Promise<NativeGroup>;
  /** One collective per tensor, in place; op: 0 sum, 1 product, 2 min, 3 max. */
  distAllReduce(g: NativeGroup, ts: H[], op: Num): Promise<void>;
  distBroadcast(g: NativeGroup, ts: H[], src: Num): Promise<void>;
  distAllGather(g: NativeGroup, t: H): Promise<H[]>;
  distBarrier(g: NativeGroup): Promise<void>;
  distBroadcastCoalesced(g: NativeGroup, ts: H[], src: Num, bucketBytes: Num): Promise<void>;
  distDestroy(g: NativeGroup): void;
  distSetGrad(param: H, grad: H): void;
  distIsSame(a: H, b: H): boolean;
}

/** An opaque native process group handle (dist.cc). */
export type NativeGroup = { readonly __brand: 'NativeGroup' };

/** distInit's options, already validated. */
export interface NativeDistInit {
  backend: 'gloo' | 'nccl';
  store: 'tcp' | 'file';
  rank: number;
  worldSize: number;
  host: string;
  port: number;
  path: string;
  /** Each collective's limit. */
  timeoutMs: number;
  /** Joining's limit: the store's operations and connecting the group. */
  rendezvousTimeoutMs: number;
  /** Gloo: network interfaces to use (GLOO_SOCKET_IFNAME); empty: the hostname's address. */
  ifnames: string[];
}

const here = dirname(fileURLToPath(import.meta.url));

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    const up = dirname(dir);
    if (up === dir) return start;
    dir = up;
  }
}

/** Loads the addon once; on failure throws one Error listing the fixes that fit (as sharp does). */
function load(): NativeBinding {
  const root = findRoot(here);
  const candidates = [join(root, 'build', 'Release', 'saln_native.node'), join(root, 'build', 'Debug', 'saln_native.node')];
  const require = createRequire(import.meta.url);
  const errors: string[] = [];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    try {
      const b = require(file) as NativeBinding;
      b.setErrorClass(EngineError);
      return b;
    } catch (e) {
      errors.push(`${file}: ${(e as Error).message}`);
    }
  }
  const hints = [
    errors.length === 0 ? '- the addon is not built: run `npm ci` (or `npm run build:native`)' : '',
    errors.some((m) => /libtorch|libc10|cannot open shared object/.test(m))
      ? '- libtorch is not on the loader path: install Debian libtorch-dev, or rebuild with LIBTORCH set to the folder you want'
      : '',
    errors.some((m) => /undefined symbol/.test(m))
      ? '- the addon was built against another libtorch than the one loaded: rebuild with `npm run build:native`'
      : '',
  ].filter(Boolean);
  throw new Error(
    `saln: could not load the native engine.\n${errors.map((m) => `  ${m}`).join('\n')}\nPossible solutions:\n${hints.join('\n')}`,
  );
}

export const native: NativeBinding = load();
