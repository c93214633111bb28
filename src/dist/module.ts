/**
 * Start-up sync of a model across ranks, as DDP's constructor does: rank src's parameters and
 * buffers (BatchNorm's running statistics) overwrite every other rank's, in buckets.
 */
import type { Module } from '../nn/module.js';
import { tensor } from '../tensor/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { EngineError } from '../binding/errors.js';
import { BROADCAST_BUCKET_BYTES, type ProcessGroup } from './process-group.js';

/** The tensors a module's state is made of, in registration order: parameters, then buffers. */
export function moduleStateTensors(module: Module<any, any>): Tensor[] {
  return [...module.parameters(), ...module.buffers()];
}

/** A 32-bit FNV-1a hash of the shapes and dtypes, to tell two models apart cheaply. */
function layoutHash(ts: readonly Tensor[]): number {
  let h = 0x811c9dc5;
  for (const t of ts) {
    const s = `${t.dtype}[${t.shape.join(',')}];`;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Fails on every rank, with a message naming the ranks, when the ranks hold differently shaped
 * models (as DDP's _verify_param_shape_across_processes); a broadcast would corrupt them.
 */
export async function verifySameLayout(group: ProcessGroup, ts: readonly Tensor[], what = 'module'): Promise<void> {
  const numel = ts.reduce((a, t) => a + t.numel, 0);
  const mine = tensor(new Float64Array([ts.length, numel, layoutHash(ts)]));
  const all = await group.allGather(mine);
  mine.dispose();
  const rows = all.map((t) => Array.from(t.toTypedArray<'float64'>()));
  for (const t of all) t.dispose();
  const differs = rows.some((r) => r.some((v, i) => v !== rows[0]![i]));
  if (differs) {
    const desc = rows.map((r, k) => `rank ${k}: ${r[0]} tensors, ${r[1]} elements`).join('; ');
    throw new EngineError(`broadcastModule (rank ${group.rank} of ${group.worldSize}): the ${what} differs across ranks (${desc})`);
  }
}

/**
 * Copies rank src's parameters and buffers into every rank's module (in place: the tensors keep
 * their identity, so optimizers built on them stay valid).
 */
export async function broadcastModule(module: Module<any, any>, group: ProcessGroup, src = 0, bucketBytes = BROADCAST_BUCKET_BYTES): Promise<void> {
  const ts = moduleStateTensors(module);
  await verifySameLayout(group, ts);
  await group.broadcastCoalesced(ts, src, bucketBytes);
}
