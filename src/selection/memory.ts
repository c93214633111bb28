/**
 * What the dense selection paths cost in memory, estimated before anything is allocated, and the
 * limit they must stay under. Every dense matrix here is n × n float64 (8·n² bytes), and they all
 * live until the end of selectSpectral's scope.
 */
import { totalmem } from 'node:os';
import { SelectionLimitError } from './errors.js';

const GiB = 1024 ** 3;
const square = (n: number): number => 8 * n * n;

/** The dense graph: S, diag(deg) and L (plus about five n² temporaries for the kNN mask). */
export function denseGraphBytes(n: number, knn: boolean): number {
  return square(n) * (3 + (knn ? 5 : 0));
}

/**
 * eigh on L: libtorch's copy of L, the eigenvectors, and LAPACK syevd's workspace (1 + 6n + 2n²
 * doubles and 3 + 5n ints); from the matrix-free operator, also the dense L it forms (2 n²).
 */
export function eighBytes(n: number, formsDense: boolean): number {
  return square(n) * (2 + (formsDense ? 2 : 0)) + 8 * (1 + 6 * n + 2 * n * n) + 4 * (3 + 5 * n);
}

/** The limit: $SALN_SELECT_MAX_BYTES, else half the machine's memory, at most 8 GiB. */
export function selectionMemoryLimit(): number {
  const env = process.env.SALN_SELECT_MAX_BYTES;
  if (env !== undefined && env !== '') {
    const v = Number(env);
    if (!Number.isSafeInteger(v) || v < 1) throw new SelectionLimitError(`SALN_SELECT_MAX_BYTES must be a whole number of bytes, not ${JSON.stringify(env)}`);
    return v;
  }
  return Math.min(8 * GiB, Math.floor(totalmem() / 2));
}

const fmt = (bytes: number): string => (bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(0)} MiB`);

/** Throws a SelectionLimitError naming the batch size, the estimate and the way out when bytes > limit. */
export function checkSelectionMemory(what: string, n: number, bytes: number, limit: number): void {
  if (bytes <= limit) return;
  throw new SelectionLimitError(
    `${what} for a batch of ${n} samples needs about ${fmt(bytes)} (n × n float64 matrices), over the limit of ${fmt(limit)}; ` +
      'use the Fiedler-only solver (--solver lanczos, without --knn or --clamp-negative), a smaller batch, ' +
      'or raise the limit with SALN_SELECT_MAX_BYTES',
  );
}
