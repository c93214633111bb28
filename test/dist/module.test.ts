import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runRanks } from './helpers.js';

// Each rank builds the model from its own seed and updates BatchNorm's running statistics on its
// own data, so parameters and buffers all differ before the broadcast.
const SCRIPT = `
import { initProcessGroup, broadcastModule } from DIST;
import { manualSeed, randn, noGrad } from TENSOR;
import { Sequential, Conv2d, BatchNorm2d, ReLU, Flatten, Linear } from NN;
const pg = await initProcessGroup({ timeoutMs: 20000 });
const wide = process.argv[1] === 'mismatch' && pg.rank === 1;
manualSeed(100 + pg.rank);
const model = new Sequential(new Conv2d(3, 4, 3), new BatchNorm2d(4), new ReLU(), new Flatten(), new Linear(wide ? 8 : 4 * 4 * 4, 5));
noGrad(() => { for (const p of model.parameters()) p.add_(pg.rank * 0.5); }); // BatchNorm starts at 1 and 0 everywhere
if (!wide) model.forward(randn([6, 3, 6, 6]).mul(pg.rank + 1)).dispose();
const state = () => [...model.namedParameters(), ...model.namedBuffers()].map(([k, t]) => [k, Array.from(t.toTypedArray(), Number)]);
const before = state();
const params = model.parameters();
try {
  await broadcastModule(model, pg, 0);
  console.log(JSON.stringify({ before, after: state(), sameObjects: model.parameters().every((p, i) => p === params[i]) }));
} catch (e) {
  console.log(JSON.stringify({ error: e.message }));
}
pg.destroy();
`;

type State = [string, number[]][];

test("broadcastModule gives every rank rank 0's parameters and buffers, in place", async () => {
  const [r0, r1] = await runRanks<{ before: State; after: State; sameObjects: boolean }>(SCRIPT, 2);
  assert.equal(r0!.code, 0, r0!.stderr);
  assert.equal(r1!.code, 0, r1!.stderr);
  const a = r0!.result!;
  const b = r1!.result!;
  const keys = a.before.map(([k]) => k);
  assert.ok(keys.includes('1.running_mean') && keys.includes('1.num_batches_tracked') && keys.includes('4.weight'));
  // Before: every parameter and running statistic differs between the ranks.
  for (const [i, [k, v]] of a.before.entries()) {
    if (k.endsWith('num_batches_tracked')) continue;
    assert.notDeepEqual(v, b.before[i]![1], `${k} already equal before the broadcast`);
  }
  assert.deepEqual(a.after, a.before, 'rank 0 keeps its state');
  assert.deepEqual(b.after, a.before, "rank 1 now holds rank 0's state");
  assert.ok(a.sameObjects && b.sameObjects);
});

test('broadcastModule refuses models that differ across ranks, on every rank', async () => {
  const res = await runRanks<{ error?: string }>(SCRIPT, 2, { args: ['mismatch'] });
  for (const [rank, p] of res.entries()) {
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.result!.error ?? '', new RegExp(String.raw`^broadcastModule \(rank ${rank} of 2\): the module differs across ranks \(rank 0: \d+ tensors, \d+ elements; rank 1: \d+ tensors, \d+ elements\)`));
  }
});
