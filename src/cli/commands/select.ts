/**
 * `saln select`: SALN's spectral selection on a batch of features stored as .npy.
 *   saln select --features X.npy --filter-ratio 0.8 --json
 *   → {"indices":[…],"fiedler_value":…}   (indices by descending score)
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { EngineError } from '../../binding/errors.js';
import { positiveInt, threads } from '../args.js';
import { UsageError, type CliIO } from '../io.js';

interface SelectFlags {
  features: string;
  filterRatio: number;
  solver: 'auto' | 'eigh' | 'lanczos';
  laplacian: 'unnormalized' | 'symmetric' | 'random-walk';
  clampNegative?: boolean;
  knn?: number;
  maxIterations?: number;
  fallback: boolean;
  threads?: number;
  json?: boolean;
  scores?: boolean;
}

function ratio(text: string): number {
  const r = Number(text);
  if (text.trim() === '' || !(r >= 0 && r < 1)) throw new InvalidArgumentError('Expected a number in [0, 1): the fraction of the batch dropped (0.8 keeps 20%).');
  return r;
}

const HELP_AFTER = `
What it does (the paper's Algorithm 1, in float64 as the NumPy/SciPy reference):
  1. S = cosine similarity of the n rows of the features (each row flattened;
     an all-zero row is similar to nothing)
  2. L = D - S, with D the diagonal matrix of the row sums of S
  3. f = the eigenvector of the 2nd-smallest eigenvalue of L (the Fiedler vector)
  4. keep the k = floor(n * (1 - ratio)) samples with the largest |f|

Input: a C-order .npy file of shape [n, d] (or [n, ...], flattened per row), any of
float32, float64, float16, int8-64, uint8 or bool. n >= 2, no NaN or Inf.

Output: with --json, one line {"indices":[...],"fiedler_value":...}, the kept indices
by descending |f| (ties: lower index first); --scores adds "scores" (|f| for every
sample). Without --json, a readable summary. A degenerate batch (every non-zero row
pointing the same way: all zero, or all identical) has no Fiedler vector to rank by:
the JSON then says "degenerate":true and a warning goes to stderr.

Memory: eigh (and the dense graph --knn and --clamp-negative need) holds n x n float64
matrices; above SALN_SELECT_MAX_BYTES (default: half the RAM, at most 8 GiB) the
command refuses before allocating.

Solvers: 'eigh' decomposes L fully (LAPACK), the reference path. 'lanczos' finds
only the Fiedler vector, and stops once the selection is certified (the error bound
on f is below half the gap at the cut-off); if it cannot certify, it falls back to
eigh (unless --no-fallback). 'auto' picks eigh below 64 samples, lanczos from 64 on.
Beyond the paper: --laplacian symmetric (I - D^-1/2 S D^-1/2) or random-walk
(I - D^-1 S, solved through the symmetric one: f = D^-1/2 u), --clamp-negative, --knn.

Exit codes: 0 success, 2 bad usage or input (the message says what), 1 other failure.

Examples:
  $ saln select --features emb.npy --filter-ratio 0.8 --json
  $ saln select --features emb.npy --filter-ratio 0.5 --solver eigh
  $ saln select --features emb.npy --filter-ratio 0.9 --laplacian symmetric --knn 10
`;

export function selectCommand(io: CliIO): Command {
  return new Command('select')
    .summary('keep the samples that matter most for a batch\'s similarity graph')
    .description('Select the k = floor(n * (1 - ratio)) samples of a batch with the largest |Fiedler vector| component (SALN).')
    .requiredOption('-f, --features <file>', 'features of one batch, a .npy array [n, d]')
    .requiredOption('-r, --filter-ratio <ratio>', 'fraction of the batch dropped, in [0, 1): 0.8 keeps 20%', ratio)
    .addOption(new Option('--solver <name>', 'eigensolver').choices(['auto', 'eigh', 'lanczos']).default('auto'))
    .addOption(new Option('--laplacian <kind>', 'graph Laplacian; the last two go beyond the paper')
      .choices(['unnormalized', 'symmetric', 'random-walk']).default('unnormalized'))
    .option('--clamp-negative', 'beyond the paper: set negative similarities to 0')
    .option('--knn <k>', 'beyond the paper: keep each sample\'s k most similar others (symmetrized)', positiveInt)
    .option('--max-iterations <n>', 'lanczos: most steps before falling back to eigh (default 400)', positiveInt)
    .option('--no-fallback', 'lanczos: report an uncertified result instead of rerunning with eigh')
    .option('--threads <n>', 'intra-op threads for the engine (default: libtorch\'s; at most 4 per core)', threads)
    .option('--json', 'print one JSON line: {"indices":[...],"fiedler_value":...}')
    .option('--scores', 'with --json, also print "scores": |f| for every sample')
    .addHelpText('after', HELP_AFTER)
    .action(async (flags: SelectFlags) => run(flags, io));
}

/** A selection error about the input (batch too small, NaN rows, k = 0), not a failure inside libtorch. */
function isInputFailure(e: unknown): e is EngineError {
  return e instanceof EngineError && e.op === undefined;
}

async function run(flags: SelectFlags, io: CliIO): Promise<void> {
  // Loaded here, not at the top: the engine is a native addon, and `saln --help` must not need it.
  const { readNpyArray } = await import('../../io/npy.js');
  const { fromBytes, setNumThreads } = await import('../../tensor/index.js');
  const { selectSpectral } = await import('../../selection/index.js');

  if (flags.threads !== undefined) setNumThreads(flags.threads);
  const arr = readNpyArray(flags.features);
  if (arr.shape.length < 2) {
    throw new UsageError(`${flags.features}: expected an array of shape [n, d] (or [n, ...]), but it has shape [${arr.shape.join(', ')}]`, { path: flags.features });
  }
  const x = fromBytes(arr.data, arr.shape, arr.dtype);
  const t0 = performance.now();
  let res;
  try {
    res = selectSpectral(x, {
      filterRatio: flags.filterRatio,
      solver: flags.solver,
      laplacian: flags.laplacian,
      clampNegative: flags.clampNegative ?? false,
      knn: flags.knn,
      maxIterations: flags.maxIterations,
      fallback: flags.fallback,
    });
  } catch (e) {
    if (isInputFailure(e)) throw new UsageError(`${flags.features}: ${e.message}`, { path: flags.features });
    throw e;
  } finally {
    x.dispose();
  }
  if (res.degenerate) {
    io.err(`saln: warning: ${flags.features}: every non-zero row points the same way (all zero or all identical), so the selection is arbitrary\n`);
  }
  const ms = performance.now() - t0;

  if (flags.json) {
    const out: Record<string, unknown> = { indices: res.indices, fiedler_value: res.fiedlerValue };
    if (res.degenerate) out.degenerate = true;
    if (flags.scores) out.scores = Array.from(res.scores);
    io.out(`${JSON.stringify(out)}\n`);
    return;
  }
  const kept = res.indices.length > 40 ? `${res.indices.slice(0, 40).join(', ')}, … (${res.indices.length - 40} more)` : res.indices.join(', ');
  const solver = res.solver === 'lanczos' ? `lanczos, ${res.iterations} steps` : flags.solver === 'eigh' ? 'eigh' : `eigh${flags.solver === 'lanczos' ? ' (fallback)' : ''}`;
  io.out(
    [
      `Kept ${res.k} of ${res.n} samples (filter ratio ${flags.filterRatio}) from ${flags.features}, ${arr.dtype} [${arr.shape.join(', ')}]`,
      `  Fiedler value   ${res.fiedlerValue}`,
      `  cut-off margin  ${Number.isFinite(res.margin) ? res.margin.toExponential(3) : 'none (every sample kept)'}`,
      `  laplacian       ${flags.laplacian}${flags.clampNegative ? ', negative similarities clamped' : ''}${flags.knn ? `, ${flags.knn}-NN graph` : ''}`,
      `  solver          ${solver}, ${ms.toFixed(1)} ms`,
      `  kept, by descending |f|: ${kept}`,
      '',
    ].join('\n'),
  );
}
