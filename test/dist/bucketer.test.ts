import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignBuckets } from '../../src/dist/index.js';
import { zeros } from '../../src/tensor/index.js';
import { runRanks } from './helpers.js';

test('assignBuckets: same dtype runs up to the cap; an oversized tensor gets its own bucket', () => {
  const ts = [zeros([10]), zeros([10]), zeros([30]), zeros([5], { dtype: 'float64' }), zeros([2], { dtype: 'float64' })];
  const sizes = assignBuckets(ts, 80).map((b) => b.map((t) => t.numel));
  assert.deepEqual(sizes, [[10, 10], [30], [5, 2]]);
  for (const t of ts) t.dispose();
});

test('GradBucketer averages gradients; a parameter without a gradient on one rank gets the average (as DDP)', async () => {
  const script = `
import { initProcessGroup, GradBucketer } from DIST;
import { tensor } from TENSOR;
const pg = await initProcessGroup({ timeoutMs: 20000 });
const r = pg.rank;
const a = tensor([1, 2, 3]).requiresGrad_();
const b = tensor([4, 5]).requiresGrad_();
// loss = (r + 1)·sum(a) + (rank 0 only) 3·sum(b)
let loss = a.sum().mul(r + 1);
if (r === 0) loss = loss.add(b.sum().mul(3));
loss.backward();
await new GradBucketer(pg, [a, b]).sync();
console.log(JSON.stringify({ a: Array.from(a.grad.toTypedArray()), b: Array.from(b.grad.toTypedArray()) }));
pg.destroy();
`;
  const res = await runRanks<{ a: number[]; b: number[] }>(script, 2);
  for (const p of res) {
    assert.equal(p.code, 0, p.stderr);
    assert.deepEqual(p.result, { a: [1.5, 1.5, 1.5], b: [1.5, 1.5] });
  }
});
