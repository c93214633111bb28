import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runRanks } from './helpers.js';

interface Values {
  rank: number;
  sum: number[];
  avg: number[];
  max: number[];
  bcast: number[];
  gathered: number[][];
  coalesced: number[][];
  catted: number[];
  record: Record<string, number>;
}

// Each rank contributes values that depend on its rank, so every expected value below is
// computed from the formulas, not copied from a run.
const COLLECTIVES = `
import { initProcessGroup, reduceRecord, allGatherCat } from DIST;
import { tensor, zeros, arange } from TENSOR;
const pg = await initProcessGroup({ timeoutMs: 20000 });
const r = pg.rank;
const arr = (t) => Array.from(t.toTypedArray(), Number);
const s = tensor([r + 1, -2 * r, 0.5]);
const a = tensor([r + 1, 10 * r]);
const m = tensor([r, -r], { dtype: 'int64' });
await Promise.all([pg.allReduce(s), pg.allReduce(a, 'avg'), pg.allReduce(m, 'max')]);
const b = tensor([r * 100 + 1, r * 100 + 2]);
await pg.broadcast(b, 1);
const gathered = (await pg.allGather(tensor([r, r * r], { dtype: 'float64' }))).map(arr);
await pg.barrier();
const co = [zeros([3]).add(r), zeros([2, 2], { dtype: 'float64' }).add(r + 5), zeros([4]).add(r * 3)];
await pg.broadcastCoalesced(co, 1, 16); // 16 bytes: forces several buckets
const catted = arr(await allGatherCat(pg, arange(0, r + 2).add(10 * r)));
const record = await reduceRecord(pg, { count: r + 1, loss: 0.25 * r });
console.log(JSON.stringify({ rank: r, sum: arr(s), avg: arr(a), max: arr(m), bcast: arr(b), gathered, coalesced: co.map(arr), catted, record }));
pg.destroy();
`;

test('collectives across 2 processes: allReduce (sum, avg, max), broadcast, allGather, barrier, broadcastCoalesced, allGatherCat, reduceRecord', async () => {
  const W = 2;
  const res = await runRanks<Values>(COLLECTIVES, W);
  for (const [rank, p] of res.entries()) {
    assert.equal(p.code, 0, `rank ${rank}: ${p.stderr}`);
    const v = p.result!;
    const ranks = [0, 1];
    assert.deepEqual(v.sum, [ranks.reduce((x, r) => x + r + 1, 0), ranks.reduce((x, r) => x - 2 * r, 0), 0.5 * W]);
    assert.deepEqual(v.avg, [ranks.reduce((x, r) => x + r + 1, 0) / W, ranks.reduce((x, r) => x + 10 * r, 0) / W]);
    assert.deepEqual(v.max, [W - 1, 0]);
    assert.deepEqual(v.bcast, [101, 102]);
    assert.deepEqual(v.gathered, ranks.map((r) => [r, r * r]));
    assert.deepEqual(v.coalesced, [[1, 1, 1], [6, 6, 6, 6], [3, 3, 3, 3]]);
    // rank r contributes r + 2 values 10r, 10r + 1, ...: uneven first dimensions
    assert.deepEqual(v.catted, ranks.flatMap((r) => Array.from({ length: r + 2 }, (_, i) => 10 * r + i)));
    assert.deepEqual(v.record, { count: 3, loss: 0.25 });
  }
});

test('a pending collective leaves the event loop free', async () => {
  // Rank 1 joins the all-reduce 400 ms late; rank 0's 20 ms timer must fire before its all-reduce
  // resolves (a blocking all-reduce would hold the timer back until the end).
  const script = `
import { initProcessGroup } from DIST;
import { zeros } from TENSOR;
const pg = await initProcessGroup({ timeoutMs: 20000 });
await pg.barrier();
const events = [];
if (pg.rank === 1) await new Promise((r) => setTimeout(r, 400));
setTimeout(() => events.push('timer'), 20);
await pg.allReduce(zeros([1 << 16]));
events.push('allReduce');
console.log(JSON.stringify(events));
pg.destroy();
`;
  const res = await runRanks<string[]>(script, 2);
  for (const p of res) assert.equal(p.code, 0, p.stderr);
  assert.deepEqual(res[0]!.result, ['timer', 'allReduce']);
});

test("store 'file' (file://): ranks meet through a shared file", async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'saln-filestore-'));
  try {
    const script = `
import { initProcessGroup } from DIST;
import { tensor } from TENSOR;
const pg = await initProcessGroup({ store: 'file', filePath: process.env.STORE_FILE, timeoutMs: 20000 });
const t = tensor([pg.rank + 1]);
await pg.allReduce(t);
console.log(JSON.stringify(Array.from(t.toTypedArray())));
pg.destroy();
`;
    const res = await runRanks<number[]>(script, 2, { env: { STORE_FILE: join(dir, 'store') } });
    for (const p of res) {
      assert.equal(p.code, 0, p.stderr);
      assert.deepEqual(p.result, [3]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
