/**
 * Tensor: a typed TypeScript handle on a libtorch tensor. Methods mirror PyTorch's names in
 * camelCase (`indexSelect`, `logSoftmax`). Every op returns a new Tensor except the `_`-suffixed
 * in-place ones. Free native memory with `dispose()` or a `tidy()` scope.
 */
import { native, type NativeHandle } from '../binding/binding.js';
import { EngineError } from '../binding/errors.js';
import { DTYPE_CODES, DTYPES_BY_CODE, typedArrayFrom, type AnyTypedArray, type DType, type TypedArrayFor } from './dtype.js';
import { track } from './scope.js';
import { opCode } from './opcodes.js';
import { checkInt, invalid, normDim } from './validate.js';

/** A device string as libtorch reads it: 'cpu', 'cuda', 'cuda:1'. */
export type Device = string;

/**
 * The memory layout of a 4-D tensor: 'contiguous' is row-major NCHW; 'channels-last' keeps the
 * NCHW shape with NHWC strides (PyTorch's torch.channels_last, also accepted as 'channels_last'),
 * the layout oneDNN's fast convolutions (bfloat16 above all) work in without reordering.
 */
export type MemoryFormat = 'contiguous' | 'channels-last';
type MemoryFormatArg = MemoryFormat | 'channels_last';

function memoryFormatCode(f: MemoryFormatArg | 'preserve'): number {
  switch (f) {
    case 'contiguous': return opCode('memoryFormat', 'contiguous');
    case 'channels-last': case 'channels_last': return opCode('memoryFormat', 'channelsLast');
    case 'preserve': return opCode('memoryFormat', 'preserve');
    default: throw invalid("'contiguous' or 'channels-last'", 'memoryFormat', f);
  }
}

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
  /** Converts dtype, device and/or memory layout (default: keep the layout), as Tensor.to. */
  to(opts: { dtype?: DType; device?: Device; copy?: boolean; memoryFormat?: MemoryFormatArg } | DType): Tensor {
    const o = typeof opts === 'string' ? { dtype: opts } : opts;
    const fmt = memoryFormatCode(o.memoryFormat ?? 'preserve');
    return new Tensor(native.to(this.handle, o.dtype ? DTYPE_CODES[o.dtype] : null, o.device ?? null, o.copy ?? false, fmt));
  }
  float(): Tensor { return this.to('float32'); }
  long(): Tensor { return this.to('int64'); }
  clone(): Tensor { return new Tensor(native.clone(this.handle)); }
  detach(): Tensor { return new Tensor(native.detach(this.handle)); }
  /** This tensor laid out densely in memoryFormat (itself when it already is, as PyTorch). */
  contiguous(memoryFormat: MemoryFormatArg | { memoryFormat?: MemoryFormatArg } = 'contiguous'): Tensor {
    const f = typeof memoryFormat === 'string' ? memoryFormat : memoryFormat.memoryFormat ?? 'contiguous';
    return new Tensor(native.contiguous(this.handle, memoryFormatCode(f)));
  }
  isContiguous(memoryFormat: MemoryFormatArg = 'contiguous'): boolean {
    return native.isContiguous(this.handle, memoryFormatCode(memoryFormat));
  }

  // ---- elementwise
  #u(op: string): Tensor { return new Tensor(native.unary(opCode('unary', op), this.handle)); }
  #b(op: string, o: Other): Tensor { return new Tensor(native.binary(opCode('binary', op), this.handle, h(o))); }
  #i(op: string, o: Other, alpha?: number): void { native.inplace(opCode('inplace', op), this.handle, h(o), alpha); }
  neg(): Tensor { return this.#u('neg'); }
  abs(): Tensor { return this.#u('abs'); }
  exp(): Tensor { return this.#u('exp'); }
  log(): Tensor { return this.#u('log'); }
  log1p(): Tensor { return this.#u('log1p'); }
  sqrt(): Tensor { return this.#u('sqrt'); }
  rsqrt(): Tensor { return this.#u('rsqrt'); }
  relu(): Tensor { return this.#u('relu'); }
  relu6(): Tensor { return this.#u('relu6'); }
  gelu(): Tensor { return this.#u('gelu'); }
  silu(): Tensor { return this.#u('silu'); }
  sigmoid(): Tensor { return this.#u('sigmoid'); }
  tanh(): Tensor { return this.#u('tanh'); }
  sign(): Tensor { return this.#u('sign'); }
  floor(): Tensor { return this.#u('floor'); }
  ceil(): Tensor { return this.#u('ceil'); }
  round(): Tensor { return this.#u('round'); }
  reciprocal(): Tensor { return this.#u('reciprocal'); }
  square(): Tensor { return this.#u('square'); }
  sin(): Tensor { return this.#u('sin'); }
  cos(): Tensor { return this.#u('cos'); }
  isnan(): Tensor { return this.#u('isnan'); }
  isfinite(): Tensor { return this.#u('isfinite'); }
  logicalNot(): Tensor { return this.#u('logicalNot'); }
  add(o: Other): Tensor { return this.#b('add', o); }
  sub(o: Other): Tensor { return this.#b('sub', o); }
  mul(o: Other): Tensor { return this.#b('mul', o); }
  div(o: Other): Tensor { return this.#b('div', o); }
  pow(o: Other): Tensor { return this.#b('pow', o); }
  remainder(o: Other): Tensor { return this.#b('remainder', o); }
  floorDivide(o: Other): Tensor { return this.#b('floorDivide', o); }
  atan2(o: Tensor): Tensor { return this.#b('atan2', o); }
  /** Elementwise max; with a number it is clamp_min. */
  maximum(o: Other): Tensor { return this.#b('maximum', o); }
  minimum(o: Other): Tensor { return this.#b('minimum', o); }
  eq(o: Other): Tensor { return this.#b('eq', o); }
  ne(o: Other): Tensor { return this.#b('ne', o); }
  lt(o: Other): Tensor { return this.#b('lt', o); }
  le(o: Other): Tensor { return this.#b('le', o); }
  gt(o: Other): Tensor { return this.#b('gt', o); }
  ge(o: Other): Tensor { return this.#b('ge', o); }
  logicalAnd(o: Tensor): Tensor { return this.#b('logicalAnd', o); }
  logicalOr(o: Tensor): Tensor { return this.#b('logicalOr', o); }
  clamp(min: number | null, max: number | null = null): Tensor {
    return new Tensor(native.clamp(this.handle, min, max));
  }
  maskedFill(mask: Tensor, value: number | boolean): Tensor {
    return new Tensor(native.maskedFill(this.handle, mask.handle, value));
  }
  matmul(o: Tensor): Tensor { return new Tensor(native.matmul(this.handle, o.handle)); }

  // ---- in-place (for optimizers and running statistics; run under noGrad)
  add_(o: Other, alpha = 1): this { this.#i('add', o, alpha); return this; }
  sub_(o: Other, alpha = 1): this { this.#i('sub', o, alpha); return this; }
  mul_(o: Other): this { this.#i('mul', o); return this; }
  div_(o: Other): this { this.#i('div', o); return this; }
  copy_(src: Tensor): this { native.copy_(this.handle, src.handle); return this; }
  fill_(v: number | boolean): this { native.fill_(this.handle, v); return this; }
  zero_(): this { native.zero_(this.handle); return this; }
  /** In-place ReLU (ReLU(inplace=True)); fine under autograd when nothing else needs the input. */
  relu_(): this { native.unaryInplace(opCode('unaryInplace', 'relu_'), this.handle); return this; }
  /** In-place ReLU6 (for bfloat16 computed as clamp_(0, 6): libtorch 1.13 lacks hardtanh's bfloat16 backward). */
  relu6_(): this { native.unaryInplace(opCode('unaryInplace', 'relu6_'), this.handle); return this; }
  uniform_(lo = 0, hi = 1): this { native.uniform_(this.handle, lo, hi); return this; }
  normal_(mean = 0, std = 1): this { native.normal_(this.handle, mean, std); return this; }
  addcmul_(a: Tensor, b: Tensor, value = 1): this { native.addcmul_(this.handle, a.handle, b.handle, value); return this; }
  addcdiv_(a: Tensor, b: Tensor, value = 1): this { native.addcdiv_(this.handle, a.handle, b.handle, value); return this; }

  // ---- reductions (dim omitted = over all elements)
  #r(op: string, dim: number | number[] | undefined, keepdim: boolean): Tensor {
    return new Tensor(native.reduce(opCode('reduce', op), this.handle, dimsOf(dim, this.ndim), keepdim));
  }
  sum(dim?: number | number[], keepdim = false): Tensor { return this.#r('sum', dim, keepdim); }
  mean(dim?: number | number[], keepdim = false): Tensor { return this.#r('mean', dim, keepdim); }
  amax(dim?: number | number[], keepdim = false): Tensor { return this.#r('amax', dim, keepdim); }
  amin(dim?: number | number[], keepdim = false): Tensor { return this.#r('amin', dim, keepdim); }
  prod(dim?: number, keepdim = false): Tensor { return this.#r('prod', dim, keepdim); }
  any(dim?: number, keepdim = false): Tensor { return this.#r('any', dim, keepdim); }
  all(dim?: number, keepdim = false): Tensor { return this.#r('all', dim, keepdim); }
  logsumexp(dim: number | number[], keepdim = false): Tensor { return this.#r('logsumexp', dim, keepdim); }
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
  /** The name of the autograd node that made this tensor (PyTorch's grad_fn.name()), or null for a leaf or without grad. */
  get gradFn(): string | null {
    return native.gradFnName(this.handle);
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
