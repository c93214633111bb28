/** Helpers shared by the bench:* scripts: logging, medians, and running the PyTorch side. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Progress goes to stderr, so stdout's last line stays the JSON result. */
export const log = (s: string): void => void process.stderr.write(`${s}\n`);

/** The middle element after sorting (the upper one for an even count). */
export const upperMedian = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** v rounded to d decimals (null stays null), for the JSON lines. */
export const r2 = (v: number | null, d = 2): number | null => (v === null ? null : Number(v.toFixed(d)));

/** The glibc settings the addon applies at load (native/src/runtime.cc), as GLIBC_TUNABLES for PyTorch. */
export const SAME_MALLOC = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=536870912';

/** The Python with PyTorch: $SALN_PYTHON (a GPU machine's), else Debian's /usr/bin/python3. */
export const python = process.env.SALN_PYTHON || '/usr/bin/python3';
/** The repository root (bench scripts run from dist/bench/). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const benchDir = join(repoRoot, 'bench');

/**
 * Runs bench/<script> with `python` (PyTorch installed) and returns the JSON of its last
 * stdout line, or null when Python or PyTorch is missing (logged). sameMalloc runs it with the
 * addon's malloc settings; otherwise with glibc's defaults.
 */
export function runTorchScript<T>(script: string, argv: string[], sameMalloc: boolean): T | null {
  if (python.includes('/') && !existsSync(python)) {
    log(`PyTorch side skipped: ${python} does not exist (set SALN_PYTHON to a Python with PyTorch)`);
    return null;
  }
  const env = { ...process.env };
  if (sameMalloc) env.GLIBC_TUNABLES = SAME_MALLOC;
  else delete env.GLIBC_TUNABLES;
  try {
    const out = execFileSync(python, [join(benchDir, script), ...argv], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'] });
    return JSON.parse(out.trim().split('\n').pop()!) as T;
  } catch (e) {
    log(`PyTorch side failed (${python}; install python3-torch, or set SALN_PYTHON): ${(e as Error).message.split('\n')[0]}`);
    return null;
  }
}
