/**
 * bench:select — SALN selection time for batches of n ∈ {32, 128, 256, 1024} features of d = 2048
 * (2 threads), against the NumPy/SciPy reference (../shared/fixtures/saln/reference.py, run by
 * python3) on the same .npy inputs in the same run, and against one ResNet-18 training step
 * (CIFAR stem, 32x32 inputs, SGD with momentum) at the same batch size (measured up to
 * --resnet-max-batch, default 256; scaled linearly above it, which overstates the overhead).
 *
 * Inputs are the reference's 'clusters' kind (nonnegative, clustered, like pooled CNN
 * embeddings), float32, written to a temp dir that both sides read. Each side's selected set is
 * compared. Progress goes to stderr; the last line of stdout is one JSON object:
 *   {"sizes":[{"n","ours_ms","numpy_ms","ratio_vs_numpy","resnet18_step_ms","overhead_pct",…}],
 *    "ratio_vs_numpy":{"32":…},…}
 * ratio_vs_numpy = numpy time ÷ ours (> 1: we are faster); overhead_pct = selection ÷ step.
 *
 * Both sides are timed with --threads (2) and with 1 thread and credited with their faster: on a
 * busy 2-core machine, spinning worker threads make 2 threads many times slower than 1. The
 * ResNet step and the eigh path run at --threads.
 * Each of --rounds rounds times NumPy then saln (reps/rounds runs each, after warm-up runs), and the
 * medians pool all rounds. The eigh path is timed too, for context (once at n = 1024: seconds).
 *
 *   npm run bench:select -- --json [--reps 9] [--rounds 3] [--sizes 32,128,256,1024] [--resnet-reps 3] [--resnet-max-batch 256] [--no-resnet]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNpy, saveNpy } from '../src/io/index.js';
import { resnet18 } from '../src/models/index.js';
import { F } from '../src/nn/index.js';
import { SGD } from '../src/optim/index.js';
import { selectSpectral, type SolverKind } from '../src/selection/index.js';
import { engineInfo, manualSeed, randint, randn, setNumThreads, tidy, type Tensor } from '../src/tensor/index.js';
import { benchArgs, log } from './common.js';

const cli = benchArgs(import.meta.url, {
  json: { type: 'boolean', default: false },
  sizes: { type: 'string', default: '32,128,256,1024' },
  d: { type: 'string', default: '2048' },
  ratio: { type: 'string', default: '0.8' },
  reps: { type: 'string', default: '9' },
  rounds: { type: 'string', default: '3' },
  warmup: { type: 'string', default: '2' },
  threads: { type: 'string', default: '2' },
  'resnet-reps': { type: 'string', default: '3' },
  'resnet-max-batch': { type: 'string', default: '256' },
  'no-resnet': { type: 'boolean', default: false },
  'no-eigh': { type: 'boolean', default: false },
});
const args = cli.values;
const sizes = cli.ints('sizes', 2);
const d = cli.int('d');
const ratio = cli.fraction('ratio');
const reps = cli.int('reps');
const rounds = cli.int('rounds');
const warmup = cli.int('warmup', 0);
const threads = cli.threads('threads');
const resnetReps = cli.int('resnet-reps', 0);
const resnetMaxBatch = cli.int('resnet-max-batch');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round3 = (v: number): number => Number(v.toPrecision(3));

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const referenceDir = resolve(root, '..', 'shared', 'fixtures', 'saln');

/** Which BLAS libtorch loaded (the reference BLAS or an optimized one decides the matmul speed). */
function blasInUse(): string {
  try {
    const libs = new Set<string>();
    for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
      const path = line.slice(line.indexOf('/'));
      if (/lib(open)?blas|libmkl|liblapack/.test(path)) libs.add(realpathSync(path));
    }
    return [...libs].join(', ') || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The reference's 'clusters' kind: k centers of relu(N(0,1)), members relu(center + 0.8·N(0,1)). */
function clusters(n: number, seed: number): Tensor {
  manualSeed(seed);
  return tidy(() => {
    const centers = randn([4, d]).relu();
    return centers.indexSelect(0, randint(0, 4, [n])).add(randn([n, d]).mul(0.8)).relu();
  });
}

function timeOurs(x: Tensor, solver: SolverKind, count: number): { ms: number[]; indices: number[]; solver: string; iterations: number } {
  let last = selectSpectral(x, { filterRatio: ratio, solver });
  for (let i = 1; i < warmup; i++) selectSpectral(x, { filterRatio: ratio, solver });
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    last = selectSpectral(x, { filterRatio: ratio, solver });
    ms.push(performance.now() - t0);
  }
  return { ms, indices: [...last.indices].sort((a, b) => a - b), solver: last.solver, iterations: last.iterations };
}

/** Median time of one ResNet-18 SGD step (zero_grad, forward, cross-entropy, backward, step). */
function resnetStep(n: number): number {
  manualSeed(0);
  const model = resnet18({ numClasses: 10, stem: 'cifar' }).train();
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = randn([n, 3, 32, 32]);
  const y = randint(0, 10, [n]);
  const ms: number[] = [];
  for (let i = 0; i < resnetReps + 1; i++) {
    const t0 = performance.now();
    tidy(() => {
      opt.zeroGrad();
      F.crossEntropy(model.forward(x), y).backward();
      opt.step();
    });
    if (i > 0) ms.push(performance.now() - t0); // the first step warms up
  }
  x.dispose();
  y.dispose();
  for (const p of model.parameters()) p.dispose();
  return median(ms);
}

setNumThreads(threads);
const dir = mkdtempSync(join(tmpdir(), 'saln-bench-'));
try {
  const files = sizes.map((n) => {
    const file = join(dir, `clusters_n${n}_d${d}.npy`);
    const x = clusters(n, 1000 + n);
    saveNpy(file, x);
    x.dispose();
    return file;
  });

  // Rounds alternate the two sides, so that a slow spell of the machine hits both alike.
  const eighTimes = sizes.map(() => [] as number[]);
  // Each side runs at `threads` and at 1 thread and is credited with the faster: when anything
  // else runs on this 2-core machine, spinning worker threads (OpenBLAS's, OpenMP's) make 2
  // threads many times slower than 1, for NumPy and for libtorch alike.
  const pyThreads = [...new Set([threads, 1])];
  const refTimes = pyThreads.map(() => sizes.map(() => [] as number[]));
  const ourTimes = pyThreads.map(() => sizes.map(() => [] as number[]));
  const perRound = Math.max(1, Math.ceil(reps / rounds));
  let refSelected: Record<string, number[]> = {};
  // This machine sets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for the sake of older OpenBLAS builds
  // (our libtorch's system OpenBLAS keeps them); they slow NumPy's current bundled OpenBLAS, so
  // the reference runs without them, at its best.
  const numpyEnv = (t: number): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(t), OMP_NUM_THREADS: String(t), MKL_NUM_THREADS: String(t) };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    return env;
  };
  let versions = { numpy: '', scipy: '' };
  const ourRuns: { indices: number[]; solver: string; iterations: number; eighIndices: number[] | null }[] = [];
  for (let round = 0; round < rounds; round++) {
    pyThreads.forEach((t, ti) => {
      log(`round ${round + 1}/${rounds}: NumPy/SciPy, ${t} thread(s)…`);
      const py = JSON.parse(
        execFileSync('python3', [join(root, 'bench', 'select_reference.py'), referenceDir, String(ratio), String(perRound), String(warmup), ...files], {
          encoding: 'utf8',
          env: numpyEnv(t),
          stdio: ['ignore', 'pipe', 'inherit'],
        }),
      ) as { numpy: string; scipy: string; results: Record<string, { times_ms: number[]; selected: number[] }> };
      versions = { numpy: py.numpy, scipy: py.scipy };
      refSelected = Object.fromEntries(files.map((f) => [f, py.results[f]!.selected]));
      files.forEach((f, i) => refTimes[ti]![i]!.push(...py.results[f]!.times_ms));
    });
    log(`round ${round + 1}/${rounds}: saln…`);
    sizes.forEach((n, i) => {
      const x = loadNpy(files[i]!);
      const autos = pyThreads.map((t, ti) => {
        setNumThreads(t);
        const r = timeOurs(x, 'auto', perRound);
        ourTimes[ti]![i]!.push(...r.ms);
        return r;
      });
      const auto = autos[0]!;
      setNumThreads(threads);
      // The eigh path for context; at n = 1024 it takes seconds, so once per run there.
      let eighIndices: number[] | null = null;
      if (!args['no-eigh'] && (n < 1024 || round === 0)) {
        const e = timeOurs(x, 'eigh', n < 1024 ? perRound : 1);
        eighTimes[i]!.push(...e.ms);
        eighIndices = e.indices;
      }
      x.dispose();
      ourRuns[i] = { indices: auto.indices, solver: auto.solver, iterations: auto.iterations, eighIndices: eighIndices ?? ourRuns[i]?.eighIndices ?? null };
    });
  }

  const stepCache = new Map<number, number>();
  const rows = sizes.map((n, i) => {
    const oursByThreads = Object.fromEntries(pyThreads.map((t, ti) => [String(t), round3(median(ourTimes[ti]![i]!))]));
    const ours = Math.min(...pyThreads.map((_, ti) => median(ourTimes[ti]![i]!)));
    const refByThreads = Object.fromEntries(pyThreads.map((t, ti) => [String(t), round3(median(refTimes[ti]![i]!))]));
    const ref = Math.min(...pyThreads.map((_, ti) => median(refTimes[ti]![i]!)));
    const run = ourRuns[i]!;
    const expected = JSON.stringify(refSelected[files[i]!]);
    let step = Number.NaN;
    const extrapolated = n > resnetMaxBatch;
    if (!args['no-resnet']) {
      // Above --resnet-max-batch (a step at 1024 takes about a minute here), scale the largest
      // measured step linearly. Steps grow faster than linearly, so this overstates the overhead.
      const b = extrapolated ? Math.max(...sizes.filter((m) => m <= resnetMaxBatch)) : n;
      if (!stepCache.has(b)) {
        log(`batch ${b}: ResNet-18 step…`);
        stepCache.set(b, resnetStep(b));
      }
      step = (stepCache.get(b)! * n) / b;
    }
    return {
      n,
      k: Math.trunc(n * (1 - ratio)),
      ours_ms: round3(ours),
      ours_ms_by_threads: oursByThreads,
      solver: run.solver,
      iterations: run.iterations,
      eigh_ms: eighTimes[i]!.length ? round3(median(eighTimes[i]!)) : null,
      numpy_ms: round3(ref),
      numpy_ms_by_threads: refByThreads,
      ratio_vs_numpy: round3(ref / ours),
      same_selection: JSON.stringify(run.indices) === expected && (run.eighIndices === null || JSON.stringify(run.eighIndices) === expected),
      resnet18_step_ms: Number.isNaN(step) ? null : round3(step),
      resnet18_step_extrapolated: !Number.isNaN(step) && extrapolated,
      overhead_pct: Number.isNaN(step) ? null : round3((100 * ours) / step),
    };
  });

  const result = {
    bench: 'select',
    d,
    filter_ratio: ratio,
    threads,
    reps: rounds * Math.max(1, Math.ceil(reps / rounds)),
    torch: engineInfo().torch,
    blas: blasInUse(),
    numpy: versions.numpy,
    scipy: versions.scipy,
    sizes: rows,
    ratio_vs_numpy: Object.fromEntries(rows.map((r) => [String(r.n), r.ratio_vs_numpy])),
    goals: {
      ratio_ge_1_everywhere: rows.every((r) => r.ratio_vs_numpy >= 1),
      ratio_ge_5_at_1024: rows.find((r) => r.n === 1024)?.ratio_vs_numpy !== undefined ? rows.find((r) => r.n === 1024)!.ratio_vs_numpy >= 5 : null,
      overhead_lt_2pct: rows.every((r) => r.overhead_pct === null || r.overhead_pct < 2),
      same_selection_everywhere: rows.every((r) => r.same_selection),
    },
  };
  if (!args.json) {
    console.log('    n  solver   ours ms   eigh ms  numpy ms  ratio  same  resnet step ms  overhead');
    for (const r of rows) {
      console.log(
        `${String(r.n).padStart(5)}  ${r.solver.padEnd(7)} ${String(r.ours_ms).padStart(8)} ${String(r.eigh_ms ?? '-').padStart(9)} ` +
          `${String(r.numpy_ms).padStart(9)} ${String(r.ratio_vs_numpy).padStart(6)}  ${r.same_selection ? 'yes ' : 'NO  '} ` +
          `${String(r.resnet18_step_ms ?? '-').padStart(13)}${r.resnet18_step_extrapolated ? '*' : ' '} ${r.overhead_pct === null ? '-' : `${r.overhead_pct}%`}`,
      );
    }
    if (rows.some((r) => r.resnet18_step_extrapolated)) console.log(`* scaled linearly from batch ${resnetMaxBatch}`);
    console.log(`BLAS: ${result.blas}`);
  }
  console.log(JSON.stringify(result));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
