/** Helpers shared by the bench:* scripts: their command line, logging, medians, and running the PyTorch side. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from 'commander';
import { threads as threadsArg } from '../src/cli/args.js';

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

type OptionSpec = { type: 'string'; default?: string } | { type: 'boolean'; default?: boolean };
type OptionValues<O extends Record<string, OptionSpec>> = {
  [K in keyof O]: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { default: string } ? string : string | undefined;
};

/** A bench's command line, with numbers checked where they are read. */
export interface BenchArgs<O extends Record<string, OptionSpec>> {
  values: OptionValues<O>;
  /** The option as an integer ≥ min (default 1). */
  int(name: keyof O & string, min?: number): number;
  /** The option as a comma-separated list of integers ≥ min (default 1). */
  ints(name: keyof O & string, min?: number): number[];
  /** The option as a number strictly between 0 and 1 (a filter ratio). */
  fraction(name: keyof O & string): number;
  /** The option as a number > 0 (a learning rate). */
  positive(name: keyof O & string): number;
  /**
   * --threads as `saln` reads it (src/cli/args.ts: 1 up to 4 per core, at most MAX_THREADS: a huge
   * count hangs the engine creating threads); `zeroKeeps`: 0 is allowed and keeps the engine's default.
   */
  threads(name: keyof O & string, o?: { zeroKeeps?: boolean }): number;
  /** The option, which must be one of `choices`. */
  choice<C extends string>(name: keyof O & string, choices: readonly C[]): C;
  /** Any other bad flag: the same one-line error and exit code 2. */
  fail(message: string): never;
}

/** Prints `bench:<name>: <message>` and exits with code 2 (bad input, as the CLI does). */
function usageExit(bench: string, message: string): never {
  // One line: Node's parseArgs explains some errors over several.
  process.stderr.write(`bench:${bench}: ${message.replace(/\s*\n\s*/g, ' ')} (--help lists the options)\n`);
  process.exit(2);
}

/** The bench script's header comment (its documentation), from bench/<name>.ts. */
function headerOf(bench: string): string {
  const source = join(benchDir, `${bench}.ts`);
  const m = existsSync(source) ? /\/\*\*([\s\S]*?)\*\//.exec(readFileSync(source, 'utf8')) : null;
  return m ? m[1]!.split('\n').map((l) => l.replace(/^\s*\* ?/, '')).join('\n').trim() : `bench:${bench}`;
}

/**
 * Parses a bench's flags strictly. An unknown flag, a missing value or a number that is not one is
 * a one-line error and exit code 2, not a stack trace or a NaN that runs on; --help prints the
 * bench's header comment. `moduleUrl` is the bench's import.meta.url (it names the bench).
 */
export function benchArgs<const O extends Record<string, OptionSpec>>(moduleUrl: string, options: O): BenchArgs<O> {
  const bench = basename(fileURLToPath(moduleUrl)).replace(/\.[jt]s$/, '').replace(/_/g, '-');
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true }).values;
  } catch (e) {
    usageExit(bench, (e as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${headerOf(basename(fileURLToPath(moduleUrl)).replace(/\.[jt]s$/, ''))}\n`);
    process.exit(0);
  }
  const read = (name: string, ok: (v: number) => boolean, expected: string): number => {
    const raw = values[name];
    const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    if (!ok(v)) usageExit(bench, `--${name} ${raw ?? '(missing)'}: expected ${expected}`);
    return v;
  };
  const integer = (min: number) => (v: number): boolean => Number.isInteger(v) && v >= min;
  return {
    values: values as OptionValues<O>,
    int: (name, min = 1) => read(name, integer(min), `an integer >= ${min}`),
    ints: (name, min = 1) => {
      const raw = String(values[name] ?? '');
      return raw.split(',').map((part) => {
        const v = part.trim() === '' ? Number.NaN : Number(part);
        if (!integer(min)(v)) usageExit(bench, `--${name} ${raw}: expected comma-separated integers >= ${min}`);
        return v;
      });
    },
    threads: (name, o = {}) => {
      const raw = String(values[name] ?? '');
      if (o.zeroKeeps && raw.trim() === '0') return 0;
      try {
        return threadsArg(raw);
      } catch (e) {
        if (!(e instanceof InvalidArgumentError)) throw e;
        return usageExit(bench, `--${name} ${raw || '(missing)'}: ${e.message}`);
      }
    },
    fraction: (name) => read(name, (v) => v > 0 && v < 1, 'a number between 0 and 1 (exclusive)'),
    positive: (name) => read(name, (v) => Number.isFinite(v) && v > 0, 'a number > 0'),
    choice: <C extends string>(name: string, choices: readonly C[]): C => {
      const raw = values[name];
      if (!choices.includes(raw as C)) usageExit(bench, `--${name} ${raw ?? '(missing)'}: expected one of ${choices.join(', ')}`);
      return raw as C;
    },
    fail: (message) => usageExit(bench, message),
  };
}
