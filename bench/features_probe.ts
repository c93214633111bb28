/**
 * bench:features-probe — what happens batch by batch, not just how fast: ResNet-50 extraction
 * (the bench:features step) in a fresh process for each side, every batch in order with its
 * seconds, minor page faults, RSS and (engine) V8 garbage collections. This is how the 224 px gap
 * was located (BENCHMARKS.md, bench:features): run it with SALN_CPU_CACHE_MB=0 to see the heap
 * growth the caching allocator removed, and with --minor-gc to see that collecting the freed
 * handles after each batch removes it too (the npm script runs node with --expose-gc for that).
 *
 *   npm run bench:features-probe -- --json [--size 224] [--batch 16] [--batches 16] [--threads 2] [--minor-gc]
 * Last stdout line: one JSON object, {engine: {trace, full_gcs, gc_ms, cpu_cache}, torch_side: {trace}}.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { resnet50 } from '../src/models/index.js';
import { cpuCacheStats, engineInfo, manualSeed, rand, setNumThreads } from '../src/tensor/index.js';
import { benchArgs, log, runTorchScript } from './common.js';
import { extractStep } from './extract-step.js';

const cli = benchArgs(import.meta.url, {
  json: { type: 'boolean', default: false },
  size: { type: 'string', default: '224' },
  batch: { type: 'string', default: '16' },
  batches: { type: 'string', default: '16' },
  threads: { type: 'string', default: '2' },
  'minor-gc': { type: 'boolean', default: false },
});
const args = cli.values;
const size = cli.int('size');
const batch = cli.int('batch');
const batches = cli.int('batches');
const threads = cli.threads('threads');
const gc = (globalThis as { gc?: (o?: { type: 'minor' | 'major' }) => void }).gc;
if (args['minor-gc'] && !gc) cli.fail('--minor-gc needs node --expose-gc: node --expose-gc dist/bench/features_probe.js --minor-gc');

interface TraceRow {
  s: number;
  faults: number;
  rss_mb: number;
}

let fullGcs = 0;
let gcMs = 0;
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcMs += e.duration;
    if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) fullGcs++;
  }
});
observer.observe({ entryTypes: ['gc'] });

setNumThreads(threads);
manualSeed(0);
const model = resnet50().eval();
const x = rand([batch, 3, size, size]).mul(255);
const trace: TraceRow[] = [];
for (let i = 0; i < batches; i++) {
  const f0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  extractStep(model, x);
  if (args['minor-gc']) gc!({ type: 'minor' });
  const row = { s: Number(((performance.now() - t0) / 1000).toFixed(4)), faults: process.resourceUsage().minorPageFault - f0, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20) };
  trace.push(row);
  log(`engine batch ${i + 1}/${batches}: ${row.s.toFixed(3)} s, ${row.faults} faults, RSS ${row.rss_mb} MB`);
}
await new Promise((r) => setTimeout(r, 20)); // gc entries arrive asynchronously
observer.disconnect();

const torch = runTorchScript<{ trace: TraceRow[]; torch: string }>('features_torch.py',
  ['--size', String(size), '--batch', String(batch), '--threads', String(threads), '--warmup', '0', '--steps', String(batches)], true);
for (const [i, row] of (torch?.trace ?? []).entries()) log(`torch  batch ${i + 1}/${batches}: ${row.s.toFixed(3)} s, ${row.faults} faults, RSS ${row.rss_mb} MB`);

const result = {
  bench: 'features-probe',
  size, batch, threads,
  libtorch: engineInfo().torch,
  torch: torch?.torch ?? 'unavailable',
  env: { SALN_CPU_CACHE_MB: process.env.SALN_CPU_CACHE_MB ?? null, minor_gc: args['minor-gc'] },
  engine: { trace, full_gcs: fullGcs, gc_ms: Number(gcMs.toFixed(1)), cpu_cache: cpuCacheStats() },
  torch_side: torch ? { trace: torch.trace } : null,
};
console.log(JSON.stringify(result));
