/**
 * Scopes around a function. Deterministic release of native memory: `tidy(fn)` disposes every
 * tensor created inside fn except what fn returns (or `keep()`s). Thread-local libtorch modes:
 * `noGrad(fn)` runs fn with autograd off, `autocast(opts, fn)` in mixed precision. The finalizer
 * on each native handle is only the safety net.
 *
 * The native side reports a tensor's host memory to V8, so that GC feels leaked tensors, only
 * once nothing else will free it: at creation outside any scope, or when it leaves the outermost
 * scope (returned from it, or keep()). Scope-owned activations are never reported: V8 answers
 * reported growth with full GCs, which cost ResNet-50 extraction ~8% of its time.
 */
import { native } from '../binding/binding.js';
import { DTYPE_CODES, DTYPES_BY_CODE, type DType } from './dtype.js';
import { invalid } from './validate.js';

/** What a scope can track: anything with a dispose(). */
export interface Disposable {
  dispose(): void;
  /** Called when it leaves every scope: from now on only dispose() or GC frees it. */
  unscoped?(): void;
}

const scopes: Set<Disposable>[] = [];

/** Called by every Tensor constructor. */
export function track(t: Disposable): void {
  const top = scopes[scopes.length - 1];
  if (top !== undefined) top.add(t);
}

/** Removes t from every open scope, so no enclosing tidy() disposes it. */
export function keep<T extends Disposable>(t: T): T {
  let owned = false;
  for (const s of scopes) owned = s.delete(t) || owned;
  if (owned) t.unscoped?.();
  return t;
}

function collect(result: unknown, out: Set<unknown>): void {
  if (result === null || typeof result !== 'object') return;
  if (out.has(result)) return;
  out.add(result);
  if (Array.isArray(result)) for (const r of result) collect(r, out);
  else if (Object.getPrototypeOf(result) === Object.prototype) for (const r of Object.values(result)) collect(r, out);
}

/**
 * Runs fn and disposes the tensors it created, except those reachable from its result (through
 * arrays and plain objects). Results are moved to the enclosing scope. Not for async functions:
 * await inside fn would let other work's tensors land in this scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  if (scopes.length === 0) native.setScoped(true);
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    leave();
    for (const t of scope) t.dispose();
    throw e;
  }
  leave();
  if (result instanceof Promise) throw new Error('tidy(fn): fn must be synchronous (it returned a Promise)');
  const kept = new Set<unknown>();
  collect(result, kept);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (!kept.has(t)) t.dispose();
    else if (parent) parent.add(t);
    else t.unscoped?.();
  }
  return result;
}

function leave(): void {
  scopes.pop();
  if (scopes.length === 0) native.setScoped(false);
}

/** Runs fn with gradient recording off (torch.no_grad()), restoring the previous mode. */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

/** What autocast() runs ops in; float16 only on CUDA (libtorch has no CPU float16 autocast). */
export interface AutocastOptions {
  dtype: 'bfloat16' | 'float16';
  /** The device type whose ops are autocast (default 'cpu'). */
  device?: 'cpu' | 'cuda';
  /** false runs fn with autocast off (e.g. an fp32-only region inside a bf16 scope). Default true. */
  enabled?: boolean;
  /**
   * Pointwise (1×1) and depthwise (grouped) convolutions (F.conv2d) whose input map has at most this
   * many pixels (H×W) compute in float32 inside the scope. Default 0: none, as torch.autocast;
   * withPrecision sets it on CPU (see there).
   */
  float32ConvMaxPixels?: number;
  /**
   * Full convolutions (groups 1, dilation 1) with small output maps compute, in `dtype`, by matmuls
   * over the input's unfolded patches (im2col; the addon's conv2dIm2col) instead of the
   * convolution kernels. Default: none, as torch.autocast; withPrecision sets it on CPU.
   */
  matmulConv?: MatmulConvLimits;
}

/** Output-map sizes, in pixels, up to which AutocastOptions.matmulConv applies. */
export interface MatmulConvLimits {
  /**
   * The weight's gradient by matmul, and strided convolutions' input gradient by folding a matmul
   * back onto the input (stride 1 takes the forward convolution with the flipped kernel).
   */
  backward: number;
  /** Also the forward pass by matmul, and every input gradient by folding. At most `backward`. */
  forward: number;
}

/** The innermost autocast scope's float32ConvMaxPixels (0 outside any, or in a disabled one), and its device. */
let convMaxPixels = 0;
let convDevice: 'cpu' | 'cuda' = 'cpu';
/** The innermost scope's matmulConv (none outside any, or in a disabled one), and its dtype. */
const NO_MATMUL_CONV: MatmulConvLimits = { backward: 0, forward: 0 };
let matmulConv = NO_MATMUL_CONV;
let matmulConvDtype: AutocastOptions['dtype'] = 'bfloat16';

type Shaped = { ndim: number; shape: readonly number[] };
type Pair = readonly [number, number];

/**
 * The device whose autocast F.conv2d(x, weight, groups) steps out of to compute in float32 (the
 * scope's small-map exception applies), or null: it computes as autocast says.
 */
export function convFloat32Device(x: Shaped, weight: Shaped, groups: number): 'cpu' | 'cuda' | null {
  if (convMaxPixels === 0 || x.ndim !== 4 || x.shape[2]! * x.shape[3]! > convMaxPixels) return null;
  return groups > 1 || weight.shape[2]! * weight.shape[3]! === 1 ? convDevice : null;
}

/** How F.conv2d computes under the scope's matmulConv: its dtype and the passes done by matmul. */
export interface Im2colPlan {
  dtype: AutocastOptions['dtype'];
  forwardByMatmul: boolean;
  inputGradByFold: boolean;
}

/** F.conv2d(x, weight)'s plan when the scope's matmulConv applies to it, else null (it computes as autocast says). */
export function convIm2colPlan(x: Shaped, weight: Shaped, o: { groups: number; stride: Pair; padding: Pair; dilation: Pair }): Im2colPlan | null {
  if (matmulConv.backward === 0 || x.ndim !== 4 || weight.ndim !== 4 || o.groups !== 1 || o.dilation[0] !== 1 || o.dilation[1] !== 1) return null;
  // The output map's side, as the convolution computes it (dilation 1).
  const side = (i: 0 | 1): number => Math.floor((x.shape[2 + i]! + 2 * o.padding[i] - weight.shape[2 + i]!) / o.stride[i]) + 1;
  const pixels = side(0) * side(1);
  // An empty or impossible output is libtorch's to report.
  if (side(0) < 1 || side(1) < 1 || pixels > matmulConv.backward) return null;
  const forward = pixels <= matmulConv.forward;
  return { dtype: matmulConvDtype, forwardByMatmul: forward, inputGradByFold: forward || o.stride[0] > 1 || o.stride[1] > 1 };
}

/**
 * Runs fn under libtorch's automatic mixed precision (torch.autocast): inside, ops on autocast's
 * lower-precision list (convolutions, matmul, linear) compute in `dtype`, numerically sensitive
 * ones in float32; tensors created outside (weights, optimizer state) keep their dtype. The
 * previous state is restored when fn returns or throws; scopes nest. Synchronous fn only, as tidy().
 *
 *   const loss = autocast({ dtype: 'bfloat16' }, () => F.crossEntropy(model.forward(x), y));
 *   loss.backward();   // outside, as in PyTorch: gradients of float32 weights are float32
 */
export function autocast<T>(o: AutocastOptions, fn: () => T): T {
  const device = o.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw invalid("'cpu' or 'cuda'", 'autocast device', device);
  const allowed = device === 'cpu' ? ['bfloat16'] : ['bfloat16', 'float16'];
  if (!allowed.includes(o.dtype)) throw invalid(allowed.map((d) => `'${d}'`).join(' or '), `autocast dtype on ${device}`, o.dtype);
  const pixels = wholeAtLeast0(o.float32ConvMaxPixels, 'float32ConvMaxPixels');
  const limits = o.matmulConv ?? NO_MATMUL_CONV;
  wholeAtLeast0(limits.backward, 'matmulConv.backward');
  if (wholeAtLeast0(limits.forward, 'matmulConv.forward') > limits.backward) throw invalid(`at most matmulConv.backward (${limits.backward})`, 'matmulConv.forward', limits.forward);
  const [wasOn, wasDtype] = native.autocastEnter(device, o.enabled ?? true, DTYPE_CODES[o.dtype]);
  const was = [convMaxPixels, convDevice, matmulConv, matmulConvDtype] as const;
  const on = o.enabled ?? true;
  [convMaxPixels, convDevice, matmulConv, matmulConvDtype] = [on ? pixels : 0, device, on ? { ...limits } : NO_MATMUL_CONV, o.dtype];
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error('autocast(fn): fn must be synchronous (it returned a Promise)');
    return result;
  } finally {
    [convMaxPixels, convDevice, matmulConv, matmulConvDtype] = was;
    native.autocastExit(device, wasOn, wasDtype);
  }
}

function wholeAtLeast0(value: number | undefined, name: string): number {
  const v = value ?? 0;
  if (!Number.isSafeInteger(v) || v < 0) throw invalid('a whole number >= 0', name, v);
  return v;
}

/** Whether ops on device run under autocast now, and in which dtype. */
export function autocastState(device: 'cpu' | 'cuda' = 'cpu'): { enabled: boolean; dtype: DType } {
  const [enabled, code] = native.autocastState(device);
  return { enabled, dtype: DTYPES_BY_CODE[code]! };
}
