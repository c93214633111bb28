/**
 * Gradient averaging after backward, as DDP does it: gradients live in flat buckets of about
 * 25 MiB (DDP's bucket_cap_mb), every bucket is all-reduced at once (Gloo works on them in
 * parallel), and each parameter's gradient becomes the average over the ranks.
 *
 *   const bucketer = new GradBucketer(group, model.parameters());
 *   bucketer.zeroGrad();     // instead of opt.zeroGrad(): gradients become views into the buckets
 *   loss.backward();         // accumulates straight into the buckets
 *   await bucketer.sync();   // every rank now holds the same, averaged gradients
 *   opt.step();
 *
 * With bucketer.zeroGrad() (DDP's gradient_as_bucket_view), sync() all-reduces the buckets in
 * place and divides them: no copies. Gradients that are not the bucket views (opt.zeroGrad() set
 * them to None and backward made new ones) are packed into the bucket first and copied back
 * after: same result, two more passes over the gradients.
 */
import { native } from '../binding/binding.js';
import { EngineError } from '../binding/errors.js';
import { keep, tidy, zeros } from '../tensor/index.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ProcessGroup } from './process-group.js';

export interface GradBucketerOptions {
  /** Bucket size in MiB (DDP's bucket_cap_mb, default 25). */
  bucketCapMb?: number;
}

/** Where the last sync() spent its time, in ms (bench:dist reads it). */
export interface SyncTimings {
  /** Copying gradients that are not bucket views into the buckets. */
  packMs: number;
  /** The all-reduces, from issue to the last completion. */
  allReduceMs: number;
  /** Dividing by the world size, and copying back into gradients that are not bucket views. */
  unpackMs: number;
  /** Buckets whose gradients were not bucket views, so were copied in and out. */
  copiedBuckets: number;
}

/** Splits params into buckets of one dtype and device and at most capBytes (one oversized parameter makes its own). */
export function assignBuckets(params: readonly Tensor[], capBytes: number): Tensor[][] {
  const buckets: Tensor[][] = [];
  let bytes = 0;
  const key = (t: Tensor): string => `${t.dtype}@${t.device}`;
  for (const p of params) {
    const size = p.numel * bytesPer(p);
    const last = buckets[buckets.length - 1];
    if (last && key(last[0]!) === key(p) && bytes + size <= capBytes) {
      last.push(p);
      bytes += size;
    } else {
      buckets.push([p]);
      bytes = size;
    }
  }
  return buckets;
}

function bytesPer(t: Tensor): number {
  return t.dtype === 'float64' || t.dtype === 'int64' ? 8 : t.dtype === 'float16' || t.dtype === 'bfloat16' ? 2 : 4;
}

/** One bucket: its parameters, its flat buffer, and each parameter's view into the buffer. */
interface Bucket {
  params: readonly Tensor[];
  flat: Tensor;
  views: readonly Tensor[];
}

function makeBucket(params: readonly Tensor[]): Bucket {
  const numel = params.reduce((a, p) => a + p.numel, 0);
  const flat = keep(zeros([numel], { dtype: params[0]!.dtype, device: params[0]!.device }));
  let offset = 0;
  const views = params.map((p) => {
    const v = keep(flat.narrow(0, offset, p.numel).view(...p.shape));
    offset += p.numel;
    return v;
  });
  return { params, flat, views };
}

export class GradBucketer {
  readonly group: ProcessGroup;
  readonly last: SyncTimings = { packMs: 0, allReduceMs: 0, unpackMs: 0, copiedBuckets: 0 };
  readonly #buckets: Bucket[];

  constructor(group: ProcessGroup, params: readonly Tensor[], o: GradBucketerOptions = {}) {
    const capMb = o.bucketCapMb ?? 25;
    if (!(capMb > 0)) throw new EngineError(`GradBucketer: Expected a positive number for bucketCapMb but received ${capMb}`);
    this.group = group;
    // Reversed: backward produces the last layers' gradients first (DDP's order, kept for when
    // buckets overlap backward).
    const trainable = params.filter((p) => p.requiresGrad).reverse();
    this.#buckets = assignBuckets(trainable, Math.floor(capMb * 1024 * 1024)).map(makeBucket);
  }

  /** The buckets, each a list of parameters. */
  get buckets(): readonly (readonly Tensor[])[] {
    return this.#buckets.map((b) => b.params);
  }

  /** Zeroes the buckets and makes every gradient a view into its bucket (replaces opt.zeroGrad()). */
  zeroGrad(): void {
    for (const b of this.#buckets) {
      b.flat.zero_();
      b.params.forEach((p, i) => native.distSetGrad(p.handle, b.views[i]!.handle));
    }
  }

  /**
   * Averages every parameter's gradient over the ranks. A parameter without a gradient here
   * counts as zeros and receives the average (as DDP does for unused parameters).
   */
  async sync(): Promise<void> {
    if (this.group.worldSize === 1) return;
    const t0 = performance.now();
    const packed = this.#buckets.map((b) => this.#pack(b));
    const t1 = performance.now();
    await this.group.allReduce(this.#buckets.map((b) => b.flat), 'sum');
    const t2 = performance.now();
    this.#buckets.forEach((b, i) => {
      b.flat.div_(this.group.worldSize);
      if (packed[i]) this.#unpack(b);
    });
    Object.assign(this.last, { packMs: t1 - t0, allReduceMs: t2 - t1, unpackMs: performance.now() - t2, copiedBuckets: packed.filter(Boolean).length });
  }

  /** Copies the gradients into the bucket unless they already are its views; true if it copied. */
  #pack(b: Bucket): boolean {
    return tidy(() => {
      const grads = b.params.map((p) => p.grad);
      if (grads.every((g, i) => g !== null && native.distIsSame(g.handle, b.views[i]!.handle))) return false;
      grads.forEach((g, i) => (g ? b.views[i]!.copy_(g) : b.views[i]!.zero_()));
      return true;
    });
  }

  #unpack(b: Bucket): void {
    tidy(() => {
      b.params.forEach((p, i) => {
        const g = p.grad;
        if (g) g.copy_(b.views[i]!);
        else native.distSetGrad(p.handle, b.views[i]!.clone().handle);
      });
    });
  }

  /** Frees the buckets; gradients that were bucket views keep the memory alive until cleared. */
  dispose(): void {
    for (const b of this.#buckets) {
      b.flat.dispose();
      for (const v of b.views) v.dispose();
    }
  }
}
