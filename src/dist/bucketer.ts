/**
 * Gradient averaging after backward, as DDP does it: gradients are packed into flat buckets of
 * about 25 MiB (DDP's bucket_cap_mb), every bucket is all-reduced at once (Gloo works on them in
 * parallel), and each parameter's gradient becomes the average over the ranks.
 *
 *   const bucketer = new GradBucketer(group, model.parameters());
 *   loss.backward();
 *   await bucketer.sync();   // every rank now holds the same, averaged gradients
 *   opt.step();
 */
import { native } from '../binding/binding.js';
import { EngineError } from '../binding/errors.js';
import { cat, keep, tidy, zeros } from '../tensor/index.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ProcessGroup } from './process-group.js';

export interface GradBucketerOptions {
  /** Bucket size in MiB (DDP's bucket_cap_mb, default 25). */
  bucketCapMb?: number;
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

/** Where the last sync() spent its time, in ms (bench:dist reads it). */
export interface SyncTimings {
  /** Flattening the gradients into the buckets. */
  packMs: number;
  /** The all-reduces, from issue to the last completion. */
  allReduceMs: number;
  /** Dividing by the world size and copying back into the gradients. */
  unpackMs: number;
}

export class GradBucketer {
  readonly group: ProcessGroup;
  readonly last: SyncTimings = { packMs: 0, allReduceMs: 0, unpackMs: 0 };
  /** The buckets, each a list of parameters; in reverse registration order, as DDP's. */
  readonly buckets: readonly (readonly Tensor[])[];

  constructor(group: ProcessGroup, params: readonly Tensor[], o: GradBucketerOptions = {}) {
    const capMb = o.bucketCapMb ?? 25;
    if (!(capMb > 0)) throw new EngineError(`GradBucketer: Expected a positive number for bucketCapMb but received ${capMb}`);
    this.group = group;
    // Reversed: backward produces the last layers' gradients first (DDP's order, kept for when
    // buckets overlap backward).
    const trainable = params.filter((p) => p.requiresGrad).reverse();
    this.buckets = assignBuckets(trainable, Math.floor(capMb * 1024 * 1024));
  }

  /**
   * Averages every parameter's gradient over the ranks. A parameter without a gradient here
   * counts as zeros and receives the average (as DDP does for unused parameters).
   */
  async sync(): Promise<void> {
    if (this.group.worldSize === 1) return;
    const t0 = performance.now();
    const flats = tidy(() => this.buckets.map((b) => keep(cat(b.map((p) => (p.grad ?? zeros([...p.shape], { dtype: p.dtype, device: p.device })).reshape(-1))))));
    try {
      const t1 = performance.now();
      await this.group.allReduce(flats, 'sum');
      const t2 = performance.now();
      tidy(() => {
        for (let i = 0; i < flats.length; i++) this.#unpack(this.buckets[i]!, flats[i]!.div_(this.group.worldSize));
      });
      Object.assign(this.last, { packMs: t1 - t0, allReduceMs: t2 - t1, unpackMs: performance.now() - t2 });
    } finally {
      for (const f of flats) f.dispose();
    }
  }

  #unpack(bucket: readonly Tensor[], flat: Tensor): void {
    let offset = 0;
    for (const p of bucket) {
      const part = flat.narrow(0, offset, p.numel).view(...p.shape);
      offset += p.numel;
      const g = p.grad;
      if (g) g.copy_(part);
      else native.distSetGrad(p.handle, part.clone().handle);
    }
  }
}
