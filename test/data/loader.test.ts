/**
 * DataLoader: deterministic given the seed, every sample once per epoch, drop_last, labels and
 * ids that match, early exit, memory and disk stores alike, and the real Pet subset end to end.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataLoader, disposeBatch, openDataset, prepareSplit, TrainTransform, type Batch, type PreparedSet } from '../../src/data/index.js';
import { assertClose, sharedDir } from '../helpers.js';
import { tempDir, writeCifarBinary } from './fixtures.js';

const tmp = tempDir();
let mem: PreparedSet;
let disk: PreparedSet;
before(async () => {
  writeCifarBinary(tmp, 20);
  const src = openDataset('cifar10-bin', tmp);
  mem = await prepareSplit(src, 'train', { size: 32, cacheDir: join(tmp, 'cache'), inMemory: true, warn: () => {} });
  disk = await prepareSplit(src, 'train', { size: 32, cacheDir: join(tmp, 'cache'), inMemory: false, warn: () => {} });
});
after(async () => {
  await mem.close();
  await disk.close();
  rmSync(tmp, { recursive: true, force: true });
});

interface Seen {
  ids: string[][];
  ys: number[][];
  xs: number[][];
}
async function drain(it: AsyncIterable<Batch>, keepX = false): Promise<Seen> {
  const s: Seen = { ids: [], ys: [], xs: [] };
  for await (const b of it) {
    s.ids.push(b.ids);
    s.ys.push(b.y.toArray());
    if (keepX) s.xs.push(Array.from(b.x.toTypedArray() as Float32Array));
    disposeBatch(b);
  }
  return s;
}

describe('DataLoader', () => {
  it('visits every sample once per epoch; the last batch is short unless dropLast', async () => {
    const a = await drain(new DataLoader(mem, { batchSize: 32 }).epoch(0));
    assert.deepEqual(a.ids.map((b) => b.length), [32, 32, 32, 4]);
    assert.deepEqual(a.ids.flat().sort(), [...mem.ids].sort());
    const d = new DataLoader(mem, { batchSize: 32, dropLast: true });
    assert.equal(d.length, 3);
    assert.deepEqual((await drain(d.epoch(0))).ids.map((b) => b.length), [32, 32, 32]);
  });
  it('is deterministic given the seed: same order and same augmented pixels; epochs and seeds differ', async () => {
    const t = new TrainTransform({ inputSize: 24 });
    const a = await drain(new DataLoader(mem, { batchSize: 16, seed: 5, transform: t }).epoch(2), true);
    const b = await drain(new DataLoader(mem, { batchSize: 16, seed: 5, transform: t }).epoch(2), true);
    assert.deepEqual(a.ids, b.ids);
    assert.deepEqual(a.xs, b.xs);
    const c = await drain(new DataLoader(mem, { batchSize: 16, seed: 6 }).epoch(2));
    const e = await drain(new DataLoader(mem, { batchSize: 16, seed: 5 }).epoch(3));
    assert.notDeepEqual(c.ids, a.ids);
    assert.notDeepEqual(e.ids, a.ids);
  });
  it('labels match the ids, and y is int64 while x is float32 [B, 3, H, W]', async () => {
    const label = new Map(mem.ids.map((id, i) => [id, mem.labels[i]!]));
    const loader = new DataLoader(mem, { batchSize: 10, transform: new TrainTransform({ inputSize: 32 }) });
    for await (const b of loader.epoch(0)) {
      assert.deepEqual(b.x.shape, [10, 3, 32, 32]);
      assert.equal(b.x.dtype, 'float32');
      assert.equal(b.y.dtype, 'int64');
      assert.deepEqual(b.y.toArray(), b.ids.map((id) => label.get(id)));
      disposeBatch(b);
    }
  });
  it('without a transform yields the cache\'s uint8 [B, H, W, 3]; shuffle: false keeps the order', async () => {
    const loader = new DataLoader(mem, { batchSize: 8, shuffle: false });
    const it = loader.epoch(0)[Symbol.asyncIterator]();
    const first = (await it.next()).value as Batch;
    assert.deepEqual(first.x.shape, [8, 32, 32, 3]);
    assert.equal(first.x.dtype, 'uint8');
    assert.deepEqual(first.ids, mem.ids.slice(0, 8));
    disposeBatch(first);
    await it.return!(undefined);
  });
  it('deferredEpoch: the same batches, their inputs on demand, for every row or only the rows asked', async () => {
    const o = { batchSize: 8, seed: 3, transform: new TrainTransform({ inputSize: 16 }), memoryFormat: 'channels-last' as const };
    const eager = new DataLoader(disk, o);
    const deferred = new DataLoader(disk, o);
    const it = deferred.deferredEpoch(1);
    let batches = 0;
    for await (const b of eager.epoch(1)) {
      const d = (await it.next()).value!;
      assert.deepEqual(d.ids, b.ids);
      assert.deepEqual(d.y.toArray(), b.y.toArray());
      assert.deepEqual(d.raw.shape, [b.ids.length, 32, 32, 3]);
      const all = d.inputs();
      assert.ok(all.isContiguous('channels-last'));
      assert.deepEqual(Array.from(all.toTypedArray() as Float32Array), Array.from(b.x.toTypedArray() as Float32Array));
      const rows = [b.ids.length - 1, 0];
      const some = d.inputs(rows);
      assert.deepEqual(some.shape, [2, 3, 16, 16]);
      const per = 3 * 16 * 16;
      const xs = Array.from(b.x.contiguous().toTypedArray() as Float32Array);
      assertClose(Array.from(some.contiguous().toTypedArray() as Float32Array), rows.flatMap((r) => xs.slice(r * per, (r + 1) * per)), { atol: 1e-6 });
      [all, some].forEach((t) => t.dispose());
      d.dispose();
      assert.ok(d.raw.isDisposed && d.y.isDisposed);
      disposeBatch(b);
      batches++;
    }
    assert.equal(batches, eager.length);
    assert.equal((await it.next()).done, true);
  });
  it('the disk-backed store gives the same batches as the in-memory one', async () => {
    const t = new TrainTransform({ inputSize: 32 });
    const a = await drain(new DataLoader(mem, { batchSize: 24, seed: 1, transform: t }).epoch(0), true);
    const b = await drain(new DataLoader(disk, { batchSize: 24, seed: 1, transform: t }).epoch(0), true);
    assert.deepEqual(b.ids, a.ids);
    assert.deepEqual(b.xs, a.xs);
  });
  it('asks for batch i + 1\'s rows before handing out batch i (prefetch), and not with prefetch: false', async () => {
    for (const prefetch of [true, false]) {
      const calls: number[] = [];
      const set = disk.subset(Array.from({ length: disk.length }, (_, i) => i));
      const orig = set.readBatch.bind(set);
      set.readBatch = (p) => {
        calls.push(p.length);
        return orig(p);
      };
      let i = 0;
      for await (const b of new DataLoader(set, { batchSize: 30, prefetch }).epoch(0)) {
        assert.equal(calls.length, prefetch ? Math.min(i + 2, 4) : i + 1, `batch ${i}`);
        disposeBatch(b);
        i++;
      }
      assert.deepEqual(calls, [30, 30, 30, 10]);
    }
  });
  it('stopping early releases the prefetched batch; for-await goes epoch after epoch', async () => {
    const loader = new DataLoader(disk, { batchSize: 16, seed: 3 });
    for await (const b of loader) {
      disposeBatch(b);
      break;
    }
    const second = await drain(loader);
    assert.deepEqual(second.ids, (await drain(new DataLoader(disk, { batchSize: 16, seed: 3 }).epoch(1))).ids);
  });
  it('feeds the real Pet subset at 64 px through the train transform', async () => {
    const src = openDataset('oxford-pets', join(sharedDir, 'datasets', 'oxford-iiit-pet-mini'), { warn: () => {} });
    const set = await prepareSplit(src, 'test', { size: 64, limit: 20, cacheDir: join(tmp, 'cache-pets'), inMemory: false, warn: () => {} });
    const loader = new DataLoader(set, { batchSize: 8, seed: 0, dropLast: true, transform: new TrainTransform({ inputSize: 56 }) });
    let n = 0;
    for await (const b of loader.epoch(0)) {
      assert.deepEqual(b.x.shape, [8, 3, 56, 56]);
      assert.ok(b.ids.every((id) => id.startsWith('images/')));
      n += b.ids.length;
      disposeBatch(b);
    }
    assert.equal(n, 16);
    await set.close();
  });
});
