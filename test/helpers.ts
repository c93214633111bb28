/** Shared test helpers: paths to the repo and to ../shared fixtures, numeric comparisons, fresh processes. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${start}`);
    dir = up;
  }
  return dir;
}

export const repoRoot = findRoot(dirname(fileURLToPath(import.meta.url)));
export const sharedDir = resolve(repoRoot, '..', 'shared');
export const fixture = (...p: string[]): string => join(sharedDir, 'fixtures', ...p);

/** Asserts |a − b| ≤ atol + rtol·|b| elementwise, reporting the worst element. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, o: { rtol?: number; atol?: number; what?: string } = {}): void {
  const rtol = o.rtol ?? 1e-5;
  const atol = o.atol ?? 1e-8;
  assert.equal(actual.length, expected.length, `${o.what ?? 'array'}: length`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const b = expected[i]!;
    const excess = Math.abs(a - b) - (atol + rtol * Math.abs(b));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(`${o.what ?? 'array'}[${worst}]: ${actual[worst]} vs expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

/** The compiled path of a src/ layer's index module (e.g. 'tensor'), for scripts run by runFreshNode. */
export const srcModule = (layer: string): string => fileURLToPath(new URL(`../src/${layer}/index.js`, import.meta.url));

/**
 * Runs an ES module script in a fresh node process: a clean V8 heap, or environment read when
 * the addon loads. Fails the test on a non-zero exit; returns the last stdout line parsed as JSON,
 * and stderr.
 */
export function runFreshNode<T>(script: string, env: Record<string, string> = {}): { result: T; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return { result: JSON.parse(r.stdout.trim().split('\n').pop()!) as T, stderr: r.stderr };
}
