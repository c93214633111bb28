/**
 * Exactness against the NumPy/SciPy reference: every case of ../shared/fixtures/saln/cases.json
 * gives the expected selected set, with both solvers (and 'auto'), from a Tensor and from a
 * Float32Array. Also k = int(n * (1 - r)) exactly as Python computes it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadNpy } from '../../src/io/index.js';
import { keptCount, selectSpectral, type SpectralSelection } from '../../src/selection/index.js';
import { assertClose, fixture } from '../helpers.js';

interface Case {
  file: string;
  n: number;
  d: number;
  filter_ratio: number;
  n_draws: number;
  selected: number[];
  fiedler_value: number;
  eigenvalues_head: number[];
  fiedler_abs: number[];
}

const cases = (JSON.parse(readFileSync(fixture('saln', 'cases.json'), 'utf8')) as { cases: Case[] }).cases;

function sorted(a: number[]): number[] {
  return [...a].sort((x, y) => x - y);
}

function checkOrder(r: SpectralSelection): void {
  for (let i = 1; i < r.indices.length; i++) {
    const [a, b] = [r.scores[r.indices[i - 1]!]!, r.scores[r.indices[i]!]!];
    assert.ok(a > b || (a === b && r.indices[i - 1]! < r.indices[i]!), `indices not by descending score at ${i}`);
  }
}

describe('selectSpectral matches the reference on every fixture case', () => {
  assert.ok(cases.length >= 6, 'cases.json has its cases');
  for (const c of cases) {
    describe(`${c.file} (n=${c.n}, d=${c.d}, ratio ${c.filter_ratio})`, () => {
      const x = loadNpy(fixture('saln', c.file));
      for (const solver of ['eigh', 'lanczos', 'auto'] as const) {
        it(`solver ${solver}`, () => {
          const r = selectSpectral(x, { filterRatio: c.filter_ratio, solver });
          assert.equal(r.k, c.n_draws);
          assert.equal(r.n, c.n);
          assert.deepEqual(sorted(r.indices), c.selected);
          checkOrder(r);
          assert.ok(Math.abs(r.fiedlerValue - c.fiedler_value) <= 1e-9 * c.fiedler_value, `Fiedler value ${r.fiedlerValue} vs ${c.fiedler_value}`);
          // eigh is the reference's algorithm: the whole |f| agrees to rounding. Lanczos stops once the set is certified.
          assertClose(r.scores, c.fiedler_abs, { rtol: 0, atol: r.solver === 'eigh' ? 1e-10 : 5e-3, what: 'scores' });
        });
      }
      it('from a Float32Array', () => {
        const data = x.toTypedArray<'float32'>();
        const r = selectSpectral({ data, n: c.n, d: c.d }, { filterRatio: c.filter_ratio, solver: 'lanczos' });
        assert.deepEqual(sorted(r.indices), c.selected);
      });
    });
  }
});

describe('keptCount', () => {
  it('is int(n * (1 - r)) in IEEE doubles, as Python computes it', () => {
    // [n, r, Python's int(n * (1 - r))]: the rounding of 1 - r decides several of these.
    const table: [number, number, number][] = [
      [32, 0.8, 6], [20, 0.9, 1], [10, 0.7, 3], [100, 0.7, 30], [64, 0.5, 32], [33, 0.3, 23],
      [1000, 0.9, 99], [7, 0.6, 2], [128, 0.8, 25], [256, 0.9, 25], [100, 0.75, 25], [3, 0.5, 1], [50, 0.98, 1],
    ];
    for (const [n, r, k] of table) assert.equal(keptCount(n, r), k, `n=${n}, r=${r}`);
  });
  it('refuses k = 0, naming the batch size and the ratio', () => {
    // 10 * (1 - 0.9) = 0.9999999999999998: Python keeps 0 samples too.
    assert.throws(() => keptCount(10, 0.9), /batch of 10 samples with filter ratio 0\.9 keeps .* = 0 samples; use a batch of at least 11/);
    assert.throws(() => keptCount(49, 0.98), /batch of 49 samples.*0\.98.*at least 50/);
  });
});
