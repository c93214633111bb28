/**
 * Tensor: a typed TypeScript handle on a libtorch tensor. Methods mirror PyTorch's names in
 * camelCase (`indexSelect`, `logSoftmax`). Every op returns a new Tensor except the `_`-suffixed
 * in-place ones. Free native memory with `dispose()` or a `tidy()` scope.
 */
import { native, type NativeHandle } from '../binding/binding.js';
import { EngineError } from '../binding/errors.js';
import { DTYPE_CODES, DTYPES_BY_CODE, typedArrayFrom, type AnyTypedArray, type DType, type TypedArrayFor } from './dtype.js';
import { track } from './scope.js';
import { checkInt, invalid, normDim } from './validate.js';

/** A device string as libtorch reads it: 'cpu', 'cuda', 'cuda:1'. */
export type Device = string;

// Op codes of the addon's unary/binary/reduce tables (native/src/ops_math.cc).
const UNARY = {
  neg: 0, abs: 1, exp: 2, log: 3, sqrt: 4, rsqrt: 5, relu: 6, sigmoid: 7, tanh: 8, sign: 9, floor: 10, ceil: 11,
  round: 12, reciprocal: 13, square: 14, isnan: 15, isfinite: 16, logicalNot: 17, sin: 18, cos: 19, log1p: 20,
  gelu: 21, silu: 22, relu6: 23,
} as const;
const BINARY = {
  add: 0, sub: 1, mul: 2, div: 3, pow: 4, maximum: 5, minimum: 6, eq: 7, ne: 8, lt: 9, le: 10, gt: 11, ge: 12,
  logicalAnd: 13, logicalOr: 14, remainder: 15, atan2: 16, floorDivide: 17,
} as const;
const REDUCE = { sum: 0, mean: 1, amax: 2, amin: 3, prod: 4, logsumexp: 5, any: 6, all: 7 } as const;
const INPLACE = { add: 0, sub: 1, mul: 2, div: 3, set: 4 } as const;

type Other = Tensor | number;

function h(o: Other): NativeHandle | number {
  return typeof o === 'number' ? o : o.handle;
}

function dimsOf(dim: number | number[] | undefined, rank: number): number[] {
  if (dim === undefined) return [];
  const ds = typeof dim === 'number' ? [dim] : dim;
  return ds.map((d) => normDim(d, rank));
}

export class Tensor {
  /** The native handle; valid until dispose(). */
  readonly handle: NativeHandle;
  #shape: number[] | undefined;
  #dtype: DType | undefined;
  #device: Device | undefined;
  #disposed = false;

  /** Wraps a native handle. Library code only: create tensors with tensor(), zeros(), randn()… */
  constructor(handle: NativeHandle) {
    this.handle = handle;
    track(this);
  }

  #meta(): void {
    const [shape, code, device] = native.meta(this.handle);
    this.#shape = shape;
    this.#dtype = DTYPES_BY_CODE[code];
    this.#device = device;
  }

  get shape(): readonly number[] {
    if (this.#shape === undefined) this.#meta();
    return this.#shape!;
  }
  get dtype(): DType {
    if (this.#dtype === undefined) this.#meta();
    return this.#dtype!;
  }
  get device(): Device {
    if (this.#device === undefined) this.#meta();
    return this.#device!;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  size(dim: number): number {
    return this.shape[normDim(dim, this.ndim)]!;
  }

  // ---- lifetime
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    native.dispose(this.handle);
  }
  get isDisposed(): boolean {
    return this.#disposed;
  }
  /** Scope bookkeeping (see scope.ts): the tensor now outlives every tidy(), so GC must feel its memory. */
  unscoped(): void {
    if (!this.#disposed) native.reportExternal(this.handle);
  }

  // ---- host transfer
  /** Copies the elements, in C order, into a new typed array (int64 gives a BigInt64Array). */
  toTypedArray<D extends DType = DType>(): TypedArrayFor<D> {
    return typedArrayFrom(this.dtype, native.toBuffer(this.handle)) as TypedArrayFor<D>;
  }
  /** The elements as plain numbers, in C order. */
  toArray(): number[] {
    const a: AnyTypedArray = this.toTypedArray();
    return Array.from(a as ArrayLike<number | bigint>, Number);
  }
  item(): number {
    return Number(native.item(this.handle));
  }
  toString(): string {
    return this.#disposed ? 'Tensor(disposed)' : `Tensor(${this.dtype}[${this.shape.join(', ')}], ${this.device})`;
  }

  // ---- dtype/device/layout
  to(opts: { dtype?: DType; device?: Device; copy?: boolean } | DType): Tensor {
    const o = typeof opts === 'string' ? { dtype: opts } : opts;
    return new Tensor(native.to(this.handle, o.dtype ? DTYPE_CODES[o.dtype] : null, o.device ?? null, o.copy ?? false));
  }
  float(): Tensor { return this.to('float32'); }
  long(): Tensor { return this.to('int64'); }
  clone(): Tensor { return new Tensor(native.clone(this.handle)); }
  detach(): Tensor { return new Tensor(native.detach(this.handle)); }
  contiguous(memoryFormat: 'contiguous' | 'channels_last' = 'contiguous'): Tensor {
    return new Tensor(native.contiguous(this.handle, memoryFormat === 'channels_last' ? 1 : 0));
  }
  isContiguous(memoryFormat: 'contiguous' | 'channels_last' = 'contiguous'): boolean {
    return native.isContiguous(this.handle, memoryFormat === 'channels_last' ? 1 : 0);
  }

  // ---- elementwise
  #u(code: number): Tensor { return new Tensor(native.unary(code, this.handle)); }
  #b(code: number, o: Other): Tensor { return new Tensor(native.binary(code, this.handle, h(o))); }
  neg(): Tensor { return this.#u(UNARY.neg); }
  abs(): Tensor { return this.#u(UNARY.abs); }
  exp(): Tensor { return this.#u(UNARY.exp); }
  log(): Tensor { return this.#u(UNARY.log); }
  log1p(): Tensor { return this.#u(UNARY.log1p); }
  sqrt(): Tensor { return this.#u(UNARY.sqrt); }
  rsqrt(): Tensor { return this.#u(UNARY.rsqrt); }
  relu(): Tensor { return this.#u(UNARY.relu); }
  relu6(): Tensor { return this.#u(UNARY.relu6); }
  gelu(): Tensor { return this.#u(UNARY.gelu); }
  silu(): Tensor { return this.#u(UNARY.silu); }
  sigmoid(): Tensor { return this.#u(UNARY.sigmoid); }
  tanh(): Tensor { return this.#u(UNARY.tanh); }
  sign(): Tensor { return this.#u(UNARY.sign); }
  floor(): Tensor { return this.#u(UNARY.floor); }
  ceil(): Tensor { return this.#u(UNARY.ceil); }
  round(): Tensor { return this.#u(UNARY.round); }
  reciprocal(): Tensor { return this.#u(UNARY.reciprocal); }
  square(): Tensor { return this.#u(UNARY.square); }
  sin(): Tensor { return this.#u(UNARY.sin); }
  cos(): Tensor { return this.#u(UNARY.cos); }
  isnan(): Tensor { return this.#u(UNARY.isnan); }
  isfinite(): Tensor { return this.#u(UNARY.isfinite); }
  logicalNot(): Tensor { return this.#u(UNARY.logicalNot); }
  add(o: Other): Tensor { return this.#b(BINARY.add, o); }
  sub(o: Other): Tensor { return this.#b(BINARY.sub, o); }
  mul(o: Other): Tensor { return this.#b(BINARY.mul, o); }
  div(o: Other): Tensor { return this.#b(BINARY.div, o); }
  pow(o: Other): Tensor { return this.#b(BINARY.pow, o); }
  remainder(o: Other): Tensor { return this.#b(BINARY.remainder, o); }
  floorDivide(o: Other): Tensor { return this.#b(BINARY.floorDivide, o); }
  atan2(o: Tensor): Tensor { return this.#b(BINARY.atan2, o); }
  /** Elementwise max; with a number it is clamp_min. */
  maximum(o: Other): Tensor { return this.#b(BINARY.maximum, o); }
  minimum(o: Other): Tensor { return this.#b(BINARY.minimum, o); }
  eq(o: Other): Tensor { return this.#b(BINARY.eq, o); }
  ne(o: Other): Tensor { return this.#b(BINARY.ne, o); }
  lt(o: Other): Tensor { return this.#b(BINARY.lt, o); }
  le(o: Other): Tensor { return this.#b(BINARY.le, o); }
  gt(o: Other): Tensor { return this.#b(BINARY.gt, o); }
  ge(o: Other): Tensor { return this.#b(BINARY.ge, o); }
  logicalAnd(o: Tensor): Tensor { return this.#b(BINARY.logicalAnd, o); }
  logicalOr(o: Tensor): Tensor { return this.#b(BINARY.logicalOr, o); }
  clamp(min: number | null, max: number | null = null): Tensor {
    return new Tensor(native.clamp(this.handle, min, max));
  }
  maskedFill(mask: Tensor, value: number | boolean): Tensor {
    return new Tensor(native.maskedFill(this.handle, mask.handle, value));
  }
  matmul(o: Tensor): Tensor { return new Tensor(native.matmul(this.handle, o.handle)); }

  // ---- in-place (for optimizers and running statistics; run under noGrad)
  add_(o: Other, alpha = 1): this { native.inplace(INPLACE.add, this.handle, h(o), alpha); return this; }
  sub_(o: Other, alpha = 1): this { native.inplace(INPLACE.sub, this.handle, h(o), alpha); return this; }
  mul_(o: Other): this { native.inplace(INPLACE.mul, this.handle, h(o)); return this; }
  div_(o: Other): this { native.inplace(INPLACE.div, this.handle, h(o)); return this; }
  copy_(src: Tensor): this { native.copy_(this.handle, src.handle); return this; }
  fill_(v: number | boolean): this { native.fill_(this.handle, v); return this; }
  zero_(): this { native.zero_(this.handle); return this; }
  /** In-place ReLU (ReLU(inplace=True)); fine under autograd when nothing else needs the input. */
  relu_(): this { native.unaryInplace(0, this.handle); return this; }
  relu6_(): this { native.unaryInplace(1, this.handle); return this; }
  uniform_(lo = 0, hi = 1): this { native.uniform_(this.handle, lo, hi); return this; }
  normal_(mean = 0, std = 1): this { native.normal_(this.handle, mean, std); return this; }
  addcmul_(a: Tensor, b: Tensor, value = 1): this { native.addcmul_(this.handle, a.handle, b.handle, value); return this; }
  addcdiv_(a: Tensor, b: Tensor, value = 1): this { native.addcdiv_(this.handle, a.handle, b.handle, value); return this; }

  // ---- reductions (dim omitted = over all elements)
  #r(code: number, dim: number | number[] | undefined, keepdim: boolean): Tensor {
    return new Tensor(native.reduce(code, this.handle, dimsOf(dim, this.ndim), keepdim));
  }
  sum(dim?: number | number[], keepdim = false): Tensor { return this.#r(REDUCE.sum, dim, keepdim); }
  mean(dim?: number | number[], keepdim = false): Tensor { return this.#r(REDUCE.mean, dim, keepdim); }
  amax(dim?: number | number[], keepdim = false): Tensor { return this.#r(REDUCE.amax, dim, keepdim); }
  amin(dim?: number | number[], keepdim = false): Tensor { return this.#r(REDUCE.amin, dim, keepdim); }
  prod(dim?: number, keepdim = false): Tensor { return this.#r(REDUCE.prod, dim, keepdim); }
  any(dim?: number, keepdim = false): Tensor { return this.#r(REDUCE.any, dim, keepdim); }
  all(dim?: number, keepdim = false): Tensor { return this.#r(REDUCE.all, dim, keepdim); }
  logsumexp(dim: number | number[], keepdim = false): Tensor { return this.#r(REDUCE.logsumexp, dim, keepdim); }
  /** Variance; `correction` 1 (default) is Bessel's, 0 the population variance. */
  var(dim?: number | number[], opts: { correction?: 0 | 1; keepdim?: boolean } = {}): Tensor {
    return new Tensor(native.variance(this.handle, dimsOf(dim, this.ndim), opts.correction ?? 1, opts.keepdim ?? false, false));
  }
  std(dim?: number | number[], opts: { correction?: 0 | 1; keepdim?: boolean } = {}): Tensor {
    return new Tensor(native.variance(this.handle, dimsOf(dim, this.ndim), opts.correction ?? 1, opts.keepdim ?? false, true));
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.argmax(this.handle, dim === undefined ? null : normDim(dim, this.ndim), keepdim));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.argmin(this.handle, dim === undefined ? null : normDim(dim, this.ndim), keepdim));
  }
  /** The p-norm over dims (torch.linalg.vector_norm); ord may be Infinity. */
  norm(ord = 2, dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native.vectorNorm(this.handle, ord, dimsOf(dim, this.ndim), keepdim));
  }
  cumsum(dim: number): Tensor { return new Tensor(native.cumsum(this.handle, normDim(dim, this.ndim))); }
  softmax(dim: number): Tensor { return new Tensor(native.softmax(this.handle, normDim(dim, this.ndim))); }
  logSoftmax(dim: number): Tensor { return new Tensor(native.logSoftmax(this.handle, normDim(dim, this.ndim))); }

  // ---- selection helpers
  /** The k largest (or smallest) along dim: [values, indices]. */
  topk(k: number, opts: { dim?: number; largest?: boolean; sorted?: boolean } = {}): [Tensor, Tensor] {
    const dim = normDim(opts.dim ?? -1, this.ndim);
    checkInt(k, 'k', 0, this.shape[dim] ?? 1);
    const [v, i] = native.topk(this.handle, k, dim, opts.largest ?? true, opts.sorted ?? true);
    return [new Tensor(v), new Tensor(i)];
  }
  sort(opts: { dim?: number; descending?: boolean; stable?: boolean } = {}): [Tensor, Tensor] {
    const [v, i] = native.sort(this.handle, normDim(opts.dim ?? -1, this.ndim), opts.descending ?? false, opts.stable ?? true);
    return [new Tensor(v), new Tensor(i)];
  }
  argsort(opts: { dim?: number; descending?: boolean; stable?: boolean } = {}): Tensor {
    const [v, i] = this.sort(opts);
    v.dispose();
    return i;
  }

  // ---- shape
  reshape(...shape: number[]): Tensor { return new Tensor(native.reshape(this.handle, shape)); }
  view(...shape: number[]): Tensor { return new Tensor(native.view(this.handle, shape)); }
  permute(...dims: number[]): Tensor {
    if (dims.length !== this.ndim) throw invalid(`${this.ndim} dims`, 'permute(dims)', dims);
    return new Tensor(native.permute(this.handle, dims.map((d) => normDim(d, this.ndim))));
  }
  transpose(a: number, b: number): Tensor { return new Tensor(native.transpose(this.handle, normDim(a, this.ndim), normDim(b, this.ndim))); }
  /** 2-D transpose. */
  get T(): Tensor { return this.transpose(0, 1); }
  expand(...shape: number[]): Tensor { return new Tensor(native.expand(this.handle, shape)); }
  repeat(...reps: number[]): Tensor { return new Tensor(native.repeat(this.handle, reps)); }
  flatten(start = 0, end = -1): Tensor {
    return new Tensor(native.flatten(this.handle, normDim(start, this.ndim), normDim(end, this.ndim)));
  }
  squeeze(dim?: number): Tensor {
    return new Tensor(dim === undefined ? native.squeeze(this.handle) : native.squeeze(this.handle, normDim(dim, this.ndim)));
  }
  unsqueeze(dim: number): Tensor { return new Tensor(native.unsqueeze(this.handle, normDim(dim, this.ndim + 1))); }
  flip(...dims: number[]): Tensor { return new Tensor(native.flip(this.handle, dims.map((d) => normDim(d, this.ndim)))); }
  narrow(dim: number, start: number, length: number): Tensor {
    return new Tensor(native.narrow(this.handle, normDim(dim, this.ndim), start, length));
  }
  /** Python's t[start:end:step] along dim (a view). */
  slice(dim: number, start: number, end: number, step = 1): Tensor {
    return new Tensor(native.slice(this.handle, normDim(dim, this.ndim), start, end, step));
  }
  select(dim: number, index: number): Tensor { return new Tensor(native.select(this.handle, normDim(dim, this.ndim), index)); }
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(native.indexSelect(this.handle, normDim(dim, this.ndim), index.handle));
  }
  gather(dim: number, index: Tensor): Tensor { return new Tensor(native.gather(this.handle, normDim(dim, this.ndim), index.handle)); }
  scatter(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(native.scatter(this.handle, normDim(dim, this.ndim), index.handle, src.handle));
  }
  maskedSelect(mask: Tensor): Tensor { return new Tensor(native.maskedSelect(this.handle, mask.handle)); }
  nonzero(): Tensor { return new Tensor(native.nonzero(this.handle)); }
  tril(diagonal = 0): Tensor { return new Tensor(native.tril(this.handle, diagonal)); }
  diag(diagonal = 0): Tensor { return new Tensor(native.diag(this.handle, diagonal)); }
  diagEmbed(): Tensor { return new Tensor(native.diagEmbed(this.handle)); }

  // ---- autograd
  get requiresGrad(): boolean {
    return native.meta(this.handle)[3];
  }
  set requiresGrad(on: boolean) {
    native.setRequiresGrad(this.handle, on);
  }
  requiresGrad_(on = true): this {
    native.setRequiresGrad(this.handle, on);
    return this;
  }
  /** Accumulates gradients into the leaves; a non-scalar needs an explicit `grad`. */
  backward(grad?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    if (grad === undefined && this.numel !== 1) {
      throw new EngineError(`backward: grad can be implicitly created only for scalar outputs, got shape [${this.shape.join(', ')}]`);
    }
    native.backward(this.handle, grad?.handle ?? null, opts.retainGraph ?? false);
  }
  /** The accumulated gradient (a new handle on the same storage), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }
  /** Replaces this tensor's data with src's, keeping its identity (PyTorch's `p.data = src`). */
  setData_(src: Tensor): this {
    native.setData(this.handle, src.handle);
    this.#shape = undefined;
    this.#dtype = undefined;
    this.#device = undefined;
    return this;
  }
  /** Sets .grad to None, as zero_grad(set_to_none=True). */
  clearGrad(): void {
    native.clearGrad(this.handle);
  }
}
