/**
 * bench:dist — the cost of data-parallel gradient sync: ResNet-18 (CIFAR stem) at batch 64 per
 * rank, 2 ranks on loopback (Gloo), each with half the cores. Every step is forward + backward
 * (into the gradients as views of 25 MiB buckets), GradBucketer.sync() (all-reduce the buckets
 * together, divide by the world size), and SGD's step. Medians over the timed steps of rank 0:
 *   allreduce_ms  the all-reduces alone (issue to last completion)
 *   sync_ms       the whole sync (pack + all-reduce + unpack)
 *   step_ms       the whole step, less the wait for the slower rank's backward (wait_ms, reported
 *                 apart: on a shared machine it is load imbalance, not the cost of syncing)
 *   sync_share    sync_ms / step_ms (goal ≤ 0.05)
 *
 *   npm run bench:dist -- --json [--ranks 2] [--batch-size 64] [--steps 6] [--warmup 2] [--bucket-mb 25]
 * Last stdout line: {"bench":"dist","ranks":2,"allreduce_ms":…,"step_ms":…,"sync_share":…, …}
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchArgs, log, upperMedian } from './common.js';

const cli = benchArgs(import.meta.url, {
  json: { type: 'boolean', default: false },
  ranks: { type: 'string', default: '2' },
  'batch-size': { type: 'string', default: '64' },
  steps: { type: 'string', default: '6' },
  warmup: { type: 'string', default: '2' },
  'bucket-mb': { type: 'string', default: '25' },
  worker: { type: 'boolean', default: false },
});
const args = cli.values;
// Checked here, before the ranks start (each worker parses the same flags).
const [ranks, batchSize, steps, warmup, bucketMb] = [cli.int('ranks'), cli.int('batch-size'), cli.int('steps'), cli.int('warmup', 0), cli.positive('bucket-mb')];

interface RankReport {
  rank: number;
  threads: number;
  buckets: number;
  params: number;
  stepMs: number[];
  waitMs: number[];
  computeMs: number[];
  syncMs: number[];
  allReduceMs: number[];
  packMs: number[];
  unpackMs: number[];
  copiedBuckets: number;
  torch: string;
}

async function worker(): Promise<void> {
  const { initProcessGroup, broadcastModule, GradBucketer } = await import('../src/dist/index.js');
  const { resnet18 } = await import('../src/models/index.js');
  const { crossEntropy } = await import('../src/nn/functional.js');
  const { SGD } = await import('../src/optim/index.js');
  const { engineInfo, getNumThreads, manualSeed, randint, randn, tidy } = await import('../src/tensor/index.js');
  const pg = await initProcessGroup({ timeoutMs: 600_000 });
  manualSeed(pg.rank);
  const model = resnet18({ numClasses: 10, stem: 'cifar' });
  await broadcastModule(model, pg);
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const bucketer = new GradBucketer(pg, model.parameters(), { bucketCapMb: bucketMb });
    const x = randn([batchSize, 3, 32, 32]);
  const y = randint(0, 10, [batchSize], { dtype: 'int64' });
  const r: RankReport = {
    rank: pg.rank, threads: getNumThreads(), buckets: bucketer.buckets.length, params: model.parameters().reduce((a, p) => a + p.numel, 0),
    stepMs: [], waitMs: [], computeMs: [], syncMs: [], allReduceMs: [], packMs: [], unpackMs: [], copiedBuckets: 0, torch: engineInfo().torch,
  };
  for (let step = 0; step < warmup + steps; step++) {
    await pg.barrier(); // every rank starts the step together, so one's late start is not counted as the other's sync
    const t0 = performance.now();
    tidy(() => {
      bucketer.zeroGrad(); // gradients as bucket views: backward writes into the buckets
      crossEntropy(model.forward(x), y).backward();
    });
    const tb = performance.now();
    // Waits for the slower rank's backward: load imbalance, which a plain step would book as sync.
    await pg.barrier();
    const t1 = performance.now();
    await bucketer.sync();
    const t2 = performance.now();
    opt.step();
    const t3 = performance.now();
    log(`rank ${pg.rank} step ${step}: compute ${(tb - t0).toFixed(0)} ms, wait ${(t1 - tb).toFixed(0)} ms, sync ${(t2 - t1).toFixed(1)} ms (all-reduce ${bucketer.last.allReduceMs.toFixed(1)})`);
    if (step < warmup) continue;
    r.stepMs.push(t3 - t0 - (t1 - tb));
    r.waitMs.push(t1 - tb);
    r.computeMs.push(tb - t0 + (t3 - t2));
    r.syncMs.push(t2 - t1);
    r.allReduceMs.push(bucketer.last.allReduceMs);
    r.packMs.push(bucketer.last.packMs);
    r.unpackMs.push(bucketer.last.unpackMs);
    r.copiedBuckets = Math.max(r.copiedBuckets, bucketer.last.copiedBuckets);
  }
  console.log(JSON.stringify(r));
  pg.destroy();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function runRank(rank: number, ranks: number, port: number): Promise<RankReport> {
  const threads = Math.max(1, Math.floor(availableParallelism() / ranks));
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--worker', ...process.argv.slice(2)], {
    env: { ...process.env, MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), WORLD_SIZE: String(ranks), RANK: String(rank), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(ranks), OMP_NUM_THREADS: String(threads) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as RankReport) : reject(new Error(`rank ${rank} exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const load = loadavg()[0]!;
  const port = await freePort();
  const reports = await Promise.all(Array.from({ length: ranks }, (_, r) => runRank(r, ranks, port)));
  const r0 = reports[0]!;
  const round = (v: number, d = 1): number => Number(v.toFixed(d));
  const stepMs = upperMedian(r0.stepMs);
  const syncMs = upperMedian(r0.syncMs);
  const result = {
    bench: 'dist',
    ranks,
    allreduce_ms: round(upperMedian(r0.allReduceMs)),
    step_ms: round(stepMs),
    sync_share: round(syncMs / stepMs, 4),
    sync_ms: round(syncMs),
    pack_ms: round(upperMedian(r0.packMs)),
    unpack_ms: round(upperMedian(r0.unpackMs)),
    compute_ms: round(upperMedian(r0.computeMs)),
    wait_ms: round(upperMedian(r0.waitMs)),
    batch_per_rank: batchSize,
    buckets: r0.buckets,
    copied_buckets: r0.copiedBuckets,
    grad_mib: round((r0.params * 4) / 2 ** 20),
    threads_per_rank: r0.threads,
    steps: r0.stepMs.length,
    load_1m_before: round(load, 2),
    load_1m_after: round(loadavg()[0]!, 2),
    torch: r0.torch,
  };
  if (!args.json) log(`sync ${result.sync_ms} ms (all-reduce ${result.allreduce_ms} ms) of a ${result.step_ms} ms step: ${(100 * result.sync_share).toFixed(1)}% (goal <= 5%)`);
  console.log(JSON.stringify(result));
}

if (args.worker) await worker();
else await main();
