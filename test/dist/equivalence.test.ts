import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertClose } from '../helpers.js';
import { runRanks } from './helpers.js';

/**
 * One small training loop, run four ways: 'single' (one process, batch B), 'sync' (2 ranks,
 * batch B/2 each, gradients averaged by GradBucketer), 'views' (as sync, with the gradients as
 * bucket views) and 'nosync' (2 ranks, no averaging: the negative control). Plain SGD, no
 * BatchNorm, 5 steps over a fixed, seeded order.
 */
const LOOP = `
import { initProcessGroup, GradBucketer, distributedIndices, broadcastModule } from DIST;
import { manualSeed, randn, randint, tensor, tidy } from TENSOR;
import { Sequential, Linear, ReLU, F } from NN;
import { SGD } from OPTIM;
const mode = process.argv[1];
const N = 40, B = 8, STEPS = 5;
manualSeed(123);
const X = randn([N, 6]);
const Y = randint(0, 3, [N], { dtype: 'int64' });
const order = Array.from({ length: N }, (_, i) => (i * 17 + 5) % N); // one fixed epoch order
const pg = mode === 'single' ? null : await initProcessGroup({ timeoutMs: 20000 });
const W = pg ? pg.worldSize : 1;
manualSeed(7 + (pg ? pg.rank : 0)); // ranks start from different weights: the broadcast aligns them
const model = new Sequential(new Linear(6, 16), new ReLU(), new Linear(16, 3));
if (pg) await broadcastModule(model, pg);
const mine = pg ? distributedIndices(order, pg.rank, W) : Int32Array.from(order);
const b = B / W;
const opt = new SGD(model.parameters(), { lr: 0.5 });
const bucketer = pg ? new GradBucketer(pg, model.parameters(), { bucketCapMb: 0.0002 }) : null; // ~200 B: several buckets
for (let step = 0; step < STEPS; step++) {
  tidy(() => {
    if (mode === 'views') bucketer.zeroGrad(); // gradients accumulate straight into the buckets
    else opt.zeroGrad();
    const idx = tensor(mine.subarray(step * b, (step + 1) * b), { dtype: 'int64' });
    F.crossEntropy(model.forward(X.indexSelect(0, idx)), Y.indexSelect(0, idx)).backward();
  });
  if (mode === 'sync' || mode === 'views') await bucketer.sync();
  opt.step();
}
console.log(JSON.stringify({ buckets: bucketer ? bucketer.buckets.length : 0, copied: bucketer ? bucketer.last.copiedBuckets : 0, params: model.parameters().flatMap((p) => Array.from(p.toTypedArray(), Number)) }));
pg?.destroy();
`;

interface Out {
  buckets: number;
  copied: number;
  params: number[];
}

async function run(mode: 'single' | 'sync' | 'views' | 'nosync'): Promise<Out[]> {
  const res = await runRanks<Out>(LOOP, mode === 'single' ? 1 : 2, { args: [mode] });
  for (const p of res) assert.equal(p.code, 0, p.stderr);
  return res.map((p) => p.result!);
}

test('2 ranks × batch B/2 with gradient averaging (packed or as bucket views) equal 1 process × batch B after 5 SGD steps; without averaging they do not', async () => {
  const [[single], sync, views, nosync] = await Promise.all([run('single'), run('sync'), run('views'), run('nosync')]);
  assert.ok(sync[0]!.buckets > 1, 'several buckets');
  assert.equal(sync[0]!.copied, sync[0]!.buckets, 'after opt.zeroGrad(), every bucket is packed');
  assert.equal(views[0]!.copied, 0, 'after bucketer.zeroGrad(), backward wrote into the buckets');
  for (const rank of [0, 1]) {
    assertClose(sync[rank]!.params, single!.params, { atol: 1e-5, rtol: 0, what: `sync rank ${rank} vs one process` });
    assertClose(views[rank]!.params, single!.params, { atol: 1e-5, rtol: 0, what: `views rank ${rank} vs one process` });
  }
  // The control: the same loop without averaging drifts away from the one-process result.
  assert.throws(() => assertClose(nosync[0]!.params, single!.params, { atol: 1e-5, rtol: 0 }), /rtol 0, atol 0.00001/);
});
