/**
 * Augmentations and input transforms as batched engine ops on float images [B, 3, H, W] in
 * [0, 1]. Each random transform takes its per-sample parameters as arrays (drawn from a seeded
 * Rng by TrainTransform), so results are reproducible and testable.
 *
 * Train (the paper's): horizontal flip (p = 0.5) → rotation (±15°) → ColorJitter(0.2, 0.2, 0.2,
 * 0.1) → resize to the model input → normalize (ImageNet mean/std).
 * Eval: resize (shorter side to input / cropFraction) → center crop → normalize.
 *
 * Differences from torchvision (v0.15+, tensor path):
 * - ColorJitter follows torchvision's tensor functions exactly (float blend + clamp to [0, 1],
 *   contrast against the mean of the grayscale image, hue through RGB→HSV→RGB, a random order of
 *   the four per image, factors uniform in [max(0, 1 − v), 1 + v] and hue in [−h, h]). On PIL
 *   images torchvision rounds to uint8 after every step and shifts hue in uint8 HSV: results
 *   differ from that path by up to a few 1/255 steps.
 * - Rotation: angles uniform in [−15°, 15°], counter-clockwise, about the image centre, same size
 *   (expand = False), fill 0, nearest interpolation by default, as RandomRotation; implemented
 *   with affineGrid + gridSample, which is what torchvision's tensor rotate does too.
 * - Resize is bilinear with antialiasing (torchvision's tensor Resize with antialias=True).
 * - All of it runs on the prepared cache's image (already resized once by libvips with a linear
 *   kernel when the cache was built, not by PIL), so flips/rotations/jitter see the cache size.
 * - Parameters come from saln's own seeded PRNG, not torch's generator: same distributions,
 *   different streams.
 * - TrainTransform folds the flip into the rotation's sampling grid (one resampling instead of
 *   two; a flip is an exact pixel permutation, so the result is the same), and runs the batch in
 *   cache-sized chunks (see chunkBytes).
 */
import { affineGrid, gridSample, interpolate } from '../nn/functional.js';
import { cat, getNumThreads, ones, selectRows, setNumThreads, tensor, tidy, where, type Tensor } from '../tensor/index.js';
import type { Rng } from './rng.js';

export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** One value for the whole batch, or one per sample. */
export type PerSample = number | ArrayLike<number>;

function expect4d(x: Tensor, op: string): [number, number, number, number] {
  if (x.ndim !== 4) throw new RangeError(`${op}: expected images [B, C, H, W], got shape [${x.shape.join(', ')}]`);
  return x.shape as unknown as [number, number, number, number];
}

/** A per-sample value as a float tensor [B, 1, 1, 1] on x's device (or the number itself). */
function perSample(v: PerSample, x: Tensor, op: string): Tensor | number {
  if (typeof v === 'number') return v;
  const b = x.shape[0]!;
  if (v.length !== b) throw new RangeError(`${op}: expected ${b} per-sample values (one per image) but received ${v.length}`);
  return tensor(Float32Array.from(v), { shape: [b, 1, 1, 1], device: x.device });
}

/** uint8 [B, H, W, 3] (the prepared cache's layout) → float32 [B, 3, H, W] in [0, 1]. */
export function toFloatImages(u8: Tensor): Tensor {
  if (u8.ndim !== 4 || u8.shape[3] !== 3) throw new RangeError(`toFloatImages: expected uint8 images [B, H, W, 3], got shape [${u8.shape.join(', ')}]`);
  // Transposing the uint8 bytes first and converting a contiguous tensor is several times faster
  // than converting the strided view.
  return tidy(() => u8.permute(0, 3, 1, 2).contiguous().float().div(255));
}

/** Mirrors left-right the images whose flag is set (all of them when flags is omitted). */
export function hflip(x: Tensor, flags?: ArrayLike<boolean | number>): Tensor {
  const [b] = expect4d(x, 'hflip');
  if (flags === undefined) return x.flip(3);
  if (flags.length !== b) throw new RangeError(`hflip: expected ${b} flags but received ${flags.length}`);
  return tidy(() => {
    const mask = tensor(Uint8Array.from(flags as ArrayLike<number>, (f) => (f ? 1 : 0)), { dtype: 'bool', shape: [b, 1, 1, 1], device: x.device });
    return where(mask, x.flip(3), x);
  });
}

export interface RotateOptions {
  /** 'nearest' (torchvision's default) or 'bilinear'. */
  interpolation?: 'nearest' | 'bilinear';
  /** Value of the pixels that come from outside the image (default 0). */
  fill?: number;
  /**
   * Per-image flags: mirror these images left-right before rotating them. Folded into the same
   * sampling grid, so the flip costs nothing extra (TrainTransform uses this).
   */
  flipFirst?: ArrayLike<boolean | number>;
}

/**
 * Rotates each image counter-clockwise by its angle in degrees about its centre, keeping the size
 * (torchvision's rotate with expand=False): one affineGrid + gridSample for the whole batch.
 */
export function rotate(x: Tensor, degrees: PerSample, o: RotateOptions = {}): Tensor {
  const [b, c, h, w] = expect4d(x, 'rotate');
  const deg = typeof degrees === 'number' ? new Array<number>(b).fill(degrees) : degrees;
  if (deg.length !== b) throw new RangeError(`rotate: expected ${b} angles but received ${deg.length}`);
  if (o.flipFirst !== undefined && o.flipFirst.length !== b) throw new RangeError(`rotate: expected ${b} flip flags but received ${o.flipFirst.length}`);
  const mode = o.interpolation ?? 'nearest';
  const fill = o.fill ?? 0;
  return tidy(() => {
    // affineGrid maps output coordinates (normalized to [-1, 1], y down) to input ones: the inverse
    // rotation, with the aspect ratio folded in so that angles hold in pixels on non-square images.
    const theta = new Float32Array(b * 6);
    for (let i = 0; i < b; i++) {
      const a = (deg[i]! * Math.PI) / 180;
      const cos = Math.cos(a);
      const sin = Math.sin(a);
      // A flip first mirrors the input's x: negate the row that produces input x.
      const m = o.flipFirst?.[i] ? -1 : 1;
      theta.set([m * cos, (-m * sin * h) / w, 0, (sin * w) / h, cos, 0], i * 6);
    }
    const grid = affineGrid(tensor(theta, { shape: [b, 2, 3], device: x.device }), [b, c, h, w], false);
    const out = gridSample(x, grid, { mode, paddingMode: 'zeros', alignCorners: false });
    if (fill === 0) return out;
    // As torchvision: sample a ones mask the same way, then fill where it fell outside.
    const mask = gridSample(ones([b, 1, h, w], { device: x.device }), grid, { mode, paddingMode: 'zeros', alignCorners: false });
    if (mode === 'nearest') return out.maskedFill(mask.lt(0.5).expand(b, c, h, w), fill);
    return out.mul(mask).add(mask.neg().add(1).mul(fill));
  });
}

/** ITU-R 601-2 luma, as torchvision's rgb_to_grayscale: [B, 3, H, W] → [B, 1, H, W]. */
export function rgbToGrayscale(x: Tensor): Tensor {
  expect4d(x, 'rgbToGrayscale');
  return tidy(() => x.mul(tensor(Float32Array.from([0.2989, 0.587, 0.114]), { shape: [1, 3, 1, 1], device: x.device })).sum(1, true));
}

/** torchvision's _blend for float images: (f·a + (1 − f)·b) clamped to [0, 1]. */
function blend(a: Tensor, b: Tensor | number, f: Tensor | number): Tensor {
  const oneMinus = typeof f === 'number' ? 1 - f : f.neg().add(1);
  const rest = typeof b !== 'number' ? b.mul(oneMinus) : typeof oneMinus === 'number' ? b * oneMinus : oneMinus.mul(b);
  return a.mul(f).add(rest).clamp(0, 1);
}

/** Multiplies brightness by f (per sample): blend with black. */
export function adjustBrightness(x: Tensor, f: PerSample): Tensor {
  expect4d(x, 'adjustBrightness');
  return tidy(() => blend(x, 0, perSample(f, x, 'adjustBrightness')));
}

/** Scales contrast by f: blend with the mean of the image's grayscale version. */
export function adjustContrast(x: Tensor, f: PerSample): Tensor {
  expect4d(x, 'adjustContrast');
  return tidy(() => blend(x, rgbToGrayscale(x).mean([1, 2, 3], true), perSample(f, x, 'adjustContrast')));
}

/** Scales saturation by f: blend with the grayscale image. */
export function adjustSaturation(x: Tensor, f: PerSample): Tensor {
  expect4d(x, 'adjustSaturation');
  return tidy(() => blend(x, rgbToGrayscale(x), perSample(f, x, 'adjustSaturation')));
}

/** RGB → HSV, each in [0, 1], as torchvision's _rgb2hsv. */
export function rgbToHsv(x: Tensor): Tensor {
  expect4d(x, 'rgbToHsv');
  // torchvision's where()s and masked sums, written as products with 0/1 float masks: the same
  // values exactly (each mask is exactly 0 or 1 and every term is finite), and much faster on CPU
  // than where() or bool × float here.
  return tidy(() => {
    const maxc = x.amax(1, true);
    const minc = x.amin(1, true);
    const gray = maxc.eq(minc).float();
    const cr = maxc.sub(minc);
    // Gray pixels have cr = 0, hence s = 0 and a chroma divisor of exactly 1.
    const s = cr.div(maxc.add(gray.mul(maxc.neg().add(1))));
    const c = maxc.sub(x).div(cr.add(gray));
    const rc = c.narrow(1, 0, 1);
    const gc = c.narrow(1, 1, 1);
    const bc = c.narrow(1, 2, 1);
    // Exactly one of the three sector terms counts: red wins ties, then green.
    const isR = maxc.eq(x.narrow(1, 0, 1)).float();
    const isG = maxc.eq(x.narrow(1, 1, 1)).float();
    const hg = rc.sub(bc).add(2);
    const hb = gc.sub(rc).add(4);
    const notR = isR.neg().add(1);
    const h = isR.mul(bc.sub(gc)).add(notR.mul(isG.mul(hg).add(isG.neg().add(1).mul(hb))));
    return cat([h.div(6).add(1).remainder(1), s, maxc], 1);
  });
}

/**
 * HSV → RGB. Equal to torchvision's _hsv2rgb (sector table over p, q, t), written in the closed
 * form c = v − v·s·clamp(min(k, 4 − k), 0, 1) with k = (n + 6h) mod 6 and n = 5, 3, 1 for R, G, B:
 * a few elementwise ops over all three channels at once.
 */
export function hsvToRgb(x: Tensor): Tensor {
  expect4d(x, 'hsvToRgb');
  return tidy(() => {
    const h6 = x.narrow(1, 0, 1).mul(6);
    const s = x.narrow(1, 1, 1);
    const v = x.narrow(1, 2, 1);
    const k = h6.add(tensor(Float32Array.from([5, 3, 1]), { shape: [1, 3, 1, 1], device: x.device })).remainder(6);
    const m = k.minimum(k.neg().add(4)).clamp(0, 1);
    return v.sub(v.mul(s).mul(m));
  });
}

/** Shifts hue by f (per sample, in turns: f ∈ [−0.5, 0.5]) through HSV. */
export function adjustHue(x: Tensor, f: PerSample): Tensor {
  expect4d(x, 'adjustHue');
  return tidy(() => {
    const hsv = rgbToHsv(x);
    const h = hsv.narrow(1, 0, 1).add(perSample(f, x, 'adjustHue')).remainder(1);
    return hsvToRgb(cat([h, hsv.narrow(1, 1, 2)], 1));
  });
}

export interface ColorJitterOptions {
  /** Brightness factor drawn from [max(0, 1 − v), 1 + v]; 0 disables. */
  brightness?: number;
  contrast?: number;
  saturation?: number;
  /** Hue shift drawn from [−v, v], v ≤ 0.5; 0 disables. */
  hue?: number;
}

/** The paper's jitter strengths. */
export const PAPER_JITTER: Required<ColorJitterOptions> = { brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.1 };

export interface JitterParams {
  /** For image i, order[4i + k] is the k-th op applied: 0 brightness, 1 contrast, 2 saturation, 3 hue. */
  order: Uint8Array;
  /** Per-sample factors, or null where the op is off. */
  brightness: Float32Array | null;
  contrast: Float32Array | null;
  saturation: Float32Array | null;
  hue: Float32Array | null;
}

/** Draws ColorJitter parameters for b images. */
export function sampleJitterParams(rng: Rng, b: number, o: ColorJitterOptions): JitterParams {
  const order = new Uint8Array(b * 4);
  const draw = (v: number | undefined, lo: number, hi: number): Float32Array | null => (v ? new Float32Array(b).fill(NaN).map(() => rng.uniform(lo, hi)) : null);
  for (let i = 0; i < b; i++) order.set(rng.permutation(4), i * 4);
  const bri = o.brightness ?? 0;
  const con = o.contrast ?? 0;
  const sat = o.saturation ?? 0;
  const hue = o.hue ?? 0;
  if (!(hue >= 0 && hue <= 0.5)) throw new RangeError(`Expected a number between 0 and 0.5 for the hue jitter but received ${hue}`);
  for (const [name, v] of [['brightness', bri], ['contrast', con], ['saturation', sat]] as const) {
    if (!(v >= 0)) throw new RangeError(`Expected a number >= 0 for the ${name} jitter but received ${v}`);
  }
  return {
    order,
    brightness: draw(bri, Math.max(0, 1 - bri), 1 + bri),
    contrast: draw(con, Math.max(0, 1 - con), 1 + con),
    saturation: draw(sat, Math.max(0, 1 - sat), 1 + sat),
    hue: draw(hue, -hue, hue),
  };
}

const JITTER_OPS = [adjustBrightness, adjustContrast, adjustSaturation, adjustHue];

/**
 * Applies ColorJitter with per-image order and factors. At each of the four steps the batch is
 * reordered so that the images applying the same op are adjacent; each op then runs once, batched,
 * on its slice (a view), and the slices are joined. One reorder at the end restores batch order.
 */
export function colorJitter(x: Tensor, p: JitterParams): Tensor {
  const [b] = expect4d(x, 'colorJitter');
  if (p.order.length !== 4 * b) throw new RangeError(`colorJitter: expected ${4 * b} order entries but received ${p.order.length}`);
  const factors = [p.brightness, p.contrast, p.saturation, p.hue];
  const index = (pos: ArrayLike<number>): Tensor => tensor(Array.from(pos), { dtype: 'int64', device: x.device });
  return tidy(() => {
    let cur = x;
    // rows[r] = the image (batch position) now in row r of cur.
    let rows = Array.from({ length: b }, (_, i) => i);
    for (let k = 0; k < 4; k++) {
      const groups: number[][] = [[], [], [], [], []]; // ops 0-3, then images whose op is off
      for (let r = 0; r < b; r++) {
        const op = p.order[4 * rows[r]! + k]!;
        groups[factors[op] ? op : 4]!.push(r);
      }
      if (groups[4]!.length === b) continue;
      const perm = groups.flat();
      if (perm.some((r, j) => r !== j)) {
        cur = cur.indexSelect(0, index(perm));
        rows = perm.map((r) => rows[r]!);
      }
      const parts: Tensor[] = [];
      let start = 0;
      for (let op = 0; op < 5; op++) {
        const n = groups[op]!.length;
        if (n === 0) continue;
        const slice = n === b ? cur : cur.narrow(0, start, n);
        parts.push(op === 4 ? slice : JITTER_OPS[op]!(slice, rows.slice(start, start + n).map((i) => factors[op]![i]!)));
        start += n;
      }
      cur = parts.length === 1 ? parts[0]! : cat(parts, 0);
    }
    if (rows.some((i, r) => i !== r)) {
      const inverse = new Array<number>(b);
      rows.forEach((i, r) => (inverse[i] = r));
      cur = cur.indexSelect(0, index(inverse));
    }
    return cur === x ? x.clone() : cur;
  });
}

/** Resizes to [h, w] (bilinear, antialiased when shrinking); a no-op copy at the same size. */
export function resize(x: Tensor, size: number | [number, number]): Tensor {
  const [, , h, w] = expect4d(x, 'resize');
  const [th, tw] = typeof size === 'number' ? [size, size] : size;
  if (th === h && tw === w) return x.clone();
  return interpolate(x, [th, tw], { mode: 'bilinear', alignCorners: false, antialias: th < h || tw < w });
}

/** Resizes so the shorter side is `size`, keeping the aspect ratio (torchvision Resize(int)). */
export function resizeShorter(x: Tensor, size: number): Tensor {
  const [, , h, w] = expect4d(x, 'resizeShorter');
  const [th, tw] = h <= w ? [size, Math.floor((size * w) / h)] : [Math.floor((size * h) / w), size];
  return resize(x, [th, tw]);
}

/** Python's round(): halves go to the even neighbour (torchvision computes crop offsets with it). */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Crops the centre [h, w] (offsets as torchvision's center_crop). */
export function centerCrop(x: Tensor, size: number | [number, number]): Tensor {
  const [, , h, w] = expect4d(x, 'centerCrop');
  const [th, tw] = typeof size === 'number' ? [size, size] : size;
  if (th > h || tw > w) throw new RangeError(`centerCrop: crop ${th}x${tw} is larger than the image ${h}x${w}`);
  const top = roundHalfEven((h - th) / 2);
  const left = roundHalfEven((w - tw) / 2);
  return x.narrow(2, top, th).narrow(3, left, tw).contiguous();
}

/** (x − mean) / std per channel. */
export function normalize(x: Tensor, mean: readonly number[] = IMAGENET_MEAN, std: readonly number[] = IMAGENET_STD): Tensor {
  const [, c] = expect4d(x, 'normalize');
  if (mean.length !== c || std.length !== c) throw new RangeError(`normalize: expected ${c} means and stds but received ${mean.length} and ${std.length}`);
  if (std.some((s) => !(s > 0))) throw new RangeError(`normalize: every std must be > 0, received [${std.join(', ')}]`);
  return tidy(() => {
    const m = tensor(Float32Array.from(mean), { shape: [1, c, 1, 1], device: x.device });
    const s = tensor(Float32Array.from(std), { shape: [1, c, 1, 1], device: x.device });
    return x.sub(m).div(s);
  });
}

const DEFAULT_CHUNK_BYTES = 2.5 * 1024 * 1024;

/** Turns a batch of cache images (uint8 [B, H, W, 3]) into model inputs (float32 [B, 3, h, w]). */
export interface BatchTransform {
  apply(u8: Tensor, rng: Rng): Tensor;
  /**
   * apply(u8, rng) restricted to the given rows, in that order, without transforming the others:
   * each row gets the same random choices (and so the same pixels) as in the full batch. Optional:
   * transformRows falls back to apply and index_select.
   */
  applyRows?(u8: Tensor, rng: Rng, rows: ArrayLike<number>): Tensor;
}

/**
 * The transformed images of these rows of the batch (t.apply then index_select, computing only
 * those rows when the transform can): a deferred batch augments only what a selector kept.
 */
export function transformRows(t: BatchTransform, u8: Tensor, rng: Rng, rows: ArrayLike<number>): Tensor {
  if (t.applyRows) return t.applyRows(u8, rng, rows);
  return tidy(() => selectRows(t.apply(u8, rng), rows));
}

export interface TrainTransformOptions {
  /** The model's input size [h, w] (a number means square). */
  inputSize: number | [number, number];
  /** Probability of a horizontal flip (default 0.5). */
  flipP?: number;
  /** Rotation range in degrees, ±rotation (default 15; 0 disables). */
  rotation?: number;
  rotationInterpolation?: 'nearest' | 'bilinear';
  /** ColorJitter strengths (default the paper's 0.2/0.2/0.2/0.1); null disables. */
  jitter?: ColorJitterOptions | null;
  mean?: readonly number[];
  std?: readonly number[];
  /**
   * Images are transformed in chunks whose float32 size is at most this many bytes (default
   * 2.5 MiB: 4 images at 224 px, a whole batch at 32 px), so that the ~60 intermediate tensors of
   * the pipeline stay in the CPU's caches instead of streaming through memory; results are the
   * same as one pass over the batch. On the 2-core test machine this took 224 px batches of 64
   * from ~80 to ~290 images/s.
   */
  chunkBytes?: number;
  /**
   * Engine threads while the transform runs (default 1; 0 keeps the current setting), restored
   * afterwards. The pipeline is hundreds of small ops; with several threads each op ends at a
   * barrier that waits for the slowest thread, and on a shared machine where a thread is often
   * descheduled those waits dominate (on the 2-core test VM, 2 threads were no faster on average
   * and sometimes 10x slower).
   */
  threads?: number;
}

/** Runs fn with the engine's intra-op threads set to n (0: unchanged), restoring them after. */
function withThreads<T>(n: number, fn: () => T): T {
  const prev = getNumThreads();
  if (n === 0 || n === prev) return fn();
  setNumThreads(n);
  try {
    return fn();
  } finally {
    setNumThreads(prev);
  }
}

/** How many images of [c, h, w] float32 fit in chunkBytes (at least 1). */
function chunkSize(chunkBytes: number, h: number, w: number): number {
  return Math.max(1, Math.floor(chunkBytes / (3 * h * w * 4)));
}

/** Runs fn on [start, start + n) chunks of the batch and joins the results along dim 0. */
function inChunks(b: number, chunk: number, fn: (start: number, n: number) => Tensor): Tensor {
  if (chunk >= b) return fn(0, b);
  return tidy(() => {
    const parts: Tensor[] = [];
    for (let s = 0; s < b; s += chunk) parts.push(fn(s, Math.min(chunk, b - s)));
    return cat(parts, 0);
  });
}

function sliceParams(p: TrainParams, s: number, n: number): TrainParams {
  const j = p.jitter;
  const sl = (a: Float32Array | null): Float32Array | null => (a === null ? null : a.subarray(s, s + n));
  return {
    flip: p.flip.subarray(s, s + n),
    angles: sl(p.angles),
    jitter: j === null ? null : { order: j.order.subarray(4 * s, 4 * (s + n)), brightness: sl(j.brightness), contrast: sl(j.contrast), saturation: sl(j.saturation), hue: sl(j.hue) },
  };
}

/** The parameters of these images, in this order. */
function pickParams(p: TrainParams, rows: ArrayLike<number>): TrainParams {
  const pick = <A extends Float32Array | Uint8Array>(a: A, per = 1): A => {
    const out = new (a.constructor as new (n: number) => A)(rows.length * per);
    for (let j = 0; j < rows.length; j++) out.set(a.subarray(rows[j]! * per, (rows[j]! + 1) * per), j * per);
    return out;
  };
  const j = p.jitter;
  const opt = (a: Float32Array | null): Float32Array | null => (a === null ? null : pick(a));
  return {
    flip: pick(p.flip),
    angles: opt(p.angles),
    jitter: j === null ? null : { order: pick(j.order, 4), brightness: opt(j.brightness), contrast: opt(j.contrast), saturation: opt(j.saturation), hue: opt(j.hue) },
  };
}

export interface TrainParams {
  flip: Uint8Array;
  angles: Float32Array | null;
  jitter: JitterParams | null;
}

/** The paper's train-time pipeline (see the file comment). */
export class TrainTransform implements BatchTransform {
  readonly o: Required<Omit<TrainTransformOptions, 'jitter'>> & { jitter: ColorJitterOptions | null };
  constructor(o: TrainTransformOptions) {
    this.o = {
      inputSize: o.inputSize, flipP: o.flipP ?? 0.5, rotation: o.rotation ?? 15, rotationInterpolation: o.rotationInterpolation ?? 'nearest',
      jitter: o.jitter === undefined ? PAPER_JITTER : o.jitter, mean: o.mean ?? IMAGENET_MEAN, std: o.std ?? IMAGENET_STD,
      chunkBytes: o.chunkBytes ?? DEFAULT_CHUNK_BYTES, threads: o.threads ?? 1,
    };
    if (!(this.o.flipP >= 0 && this.o.flipP <= 1)) throw new RangeError(`Expected a number between 0 and 1 for flipP but received ${this.o.flipP}`);
    if (!(this.o.rotation >= 0 && this.o.rotation <= 180)) throw new RangeError(`Expected a number between 0 and 180 for rotation but received ${this.o.rotation}`);
  }

  /** Draws every random choice for a batch of b images. */
  sample(rng: Rng, b: number): TrainParams {
    const flip = new Uint8Array(b);
    for (let i = 0; i < b; i++) flip[i] = rng.next() < this.o.flipP ? 1 : 0;
    let angles: Float32Array | null = null;
    if (this.o.rotation > 0) {
      angles = new Float32Array(b);
      for (let i = 0; i < b; i++) angles[i] = rng.uniform(-this.o.rotation, this.o.rotation);
    }
    const jitter = this.o.jitter === null ? null : sampleJitterParams(rng, b, this.o.jitter);
    return { flip, angles, jitter };
  }

  apply(u8: Tensor, rng: Rng): Tensor {
    return this.applyWith(u8, this.sample(rng, u8.shape[0]!));
  }

  applyRows(u8: Tensor, rng: Rng, rows: ArrayLike<number>): Tensor {
    const b = u8.shape[0]!;
    for (let j = 0; j < rows.length; j++) {
      if (!Number.isInteger(rows[j]) || rows[j]! < 0 || rows[j]! >= b) throw new RangeError(`TrainTransform.applyRows: row ${rows[j]} is not in a batch of ${b}`);
    }
    // Draw for the whole batch, as apply does, so each row keeps its own choices.
    const p = pickParams(this.sample(rng, b), rows);
    const picked = selectRows(u8, rows);
    try {
      return this.applyWith(picked, p);
    } finally {
      picked.dispose();
    }
  }

  applyWith(u8: Tensor, p: TrainParams): Tensor {
    const [b, h, w] = u8.shape as [number, number, number, number];
    if (p.flip.length !== b) throw new RangeError(`TrainTransform: parameters for ${p.flip.length} images but the batch has ${b}`);
    return withThreads(this.o.threads, () =>
      inChunks(b, chunkSize(this.o.chunkBytes, h, w), (s, n) => this.#run(n === b ? u8 : u8.narrow(0, s, n), n === b ? p : sliceParams(p, s, n))));
  }

  #run(u8: Tensor, p: TrainParams): Tensor {
    return tidy(() => {
      let x = toFloatImages(u8);
      if (p.angles !== null) x = rotate(x, p.angles, { interpolation: this.o.rotationInterpolation, flipFirst: p.flip });
      else if (p.flip.some((f) => f)) x = hflip(x, p.flip);
      if (p.jitter !== null) x = colorJitter(x, p.jitter);
      const [th, tw] = typeof this.o.inputSize === 'number' ? [this.o.inputSize, this.o.inputSize] : this.o.inputSize;
      if (x.shape[2] !== th || x.shape[3] !== tw) x = resize(x, [th, tw]);
      return normalize(x, this.o.mean, this.o.std);
    });
  }
}

export interface EvalTransformOptions {
  inputSize: number | [number, number];
  /**
   * The centre crop's share of the resized image (default 1: resize straight to the input). 0.875
   * gives torchvision's ImageNet evaluation: Resize(256) then CenterCrop(224).
   */
  cropFraction?: number;
  mean?: readonly number[];
  std?: readonly number[];
  /** As TrainTransformOptions.chunkBytes. */
  chunkBytes?: number;
  /** As TrainTransformOptions.threads (default 1). */
  threads?: number;
}

/** Eval-time pipeline: resize the shorter side, center crop, normalize. Deterministic. */
export class EvalTransform implements BatchTransform {
  readonly o: Required<EvalTransformOptions>;
  constructor(o: EvalTransformOptions) {
    this.o = { inputSize: o.inputSize, cropFraction: o.cropFraction ?? 1, mean: o.mean ?? IMAGENET_MEAN, std: o.std ?? IMAGENET_STD, chunkBytes: o.chunkBytes ?? DEFAULT_CHUNK_BYTES, threads: o.threads ?? 1 };
    if (!(this.o.cropFraction > 0 && this.o.cropFraction <= 1)) throw new RangeError(`Expected a number in (0, 1] for cropFraction but received ${this.o.cropFraction}`);
  }
  apply(u8: Tensor): Tensor {
    const [th, tw] = typeof this.o.inputSize === 'number' ? [this.o.inputSize, this.o.inputSize] : this.o.inputSize;
    const [b, h, w] = u8.shape as [number, number, number, number];
    return withThreads(this.o.threads, () => inChunks(b, chunkSize(this.o.chunkBytes, h, w), (s, n) => tidy(() => {
      const x = toFloatImages(n === b ? u8 : u8.narrow(0, s, n));
      const f = this.o.cropFraction;
      const resized = th === tw ? resizeShorter(x, Math.round(th / f)) : resize(x, [Math.round(th / f), Math.round(tw / f)]);
      return normalize(centerCrop(resized, [th, tw]), this.o.mean, this.o.std);
    })));
  }
}
