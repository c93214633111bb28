/**
 * JSON values across ranks, as torch.distributed's all_gather_object and broadcast_object_list:
 * encoded as UTF-8 bytes in a uint8 tensor, so any rank's value can differ in size.
 */
import { tensor } from '../tensor/index.js';
import { allGatherCat, reduceSums } from './eval.js';
import type { ProcessGroup } from './process-group.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Every rank's value (JSON-serializable), in rank order. */
export async function allGatherObject<T>(group: ProcessGroup, value: T): Promise<T[]> {
  const bytes = encoder.encode(JSON.stringify(value));
  const sizes = await reduceSums(group, Array.from({ length: group.worldSize }, (_, r) => (r === group.rank ? bytes.length : 0)));
  const mine = tensor(bytes, { dtype: 'uint8' }); // never empty: JSON is at least one byte
  const all = await allGatherCat(group, mine);
  mine.dispose();
  const flat = all.toTypedArray<'uint8'>() as Uint8Array;
  all.dispose();
  const out: T[] = [];
  let offset = 0;
  for (const n of sizes) {
    out.push(JSON.parse(decoder.decode(flat.subarray(offset, offset + n))) as T);
    offset += n;
  }
  return out;
}

/** Rank src's value, on every rank (the others' `value` is ignored). */
export async function broadcastObject<T>(group: ProcessGroup, value: T, src = 0): Promise<T> {
  const bytes = group.rank === src ? encoder.encode(JSON.stringify(value)) : new Uint8Array(0);
  const [size] = await reduceSums(group, [group.rank === src ? bytes.length : 0]);
  const buf = tensor(group.rank === src ? bytes : new Uint8Array(size!), { dtype: 'uint8' });
  try {
    await group.broadcast(buf, src);
    return JSON.parse(decoder.decode(buf.toTypedArray<'uint8'>() as Uint8Array)) as T;
  } finally {
    buf.dispose();
  }
}
