/**
 * Properties the selection must have whatever the data: permuting the rows of X permutes the
 * selection accordingly, and scaling a row by a positive constant changes nothing (cosine
 * similarity ignores row norms). Checked with both solvers, on fixture and random batches.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadNpy } from '../../src/io/index.js';
import { selectSpectral, type SolverKind } from '../../src/selection/index.js';
import { manualSeed, rand, randn, randint, randperm, tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { assertClose, fixture } from '../helpers.js';

const sorted = (a: number[]): number[] => [...a].sort((x, y) => x - y);

function clusters(n: number, d: number, seed: number): Tensor {
  manualSeed(seed);
  return tidy(() => {
    const centers = randn([4, d]).relu();
    return centers.indexSelect(0, randint(0, 4, [n])).add(randn([n, d]).mul(0.8)).relu();
  });
}

const batches: [string, () => Tensor, number][] = [
  ['fixture case_02 (n=128)', () => loadNpy(fixture('saln', 'case_02.npy')), 0.8],
  ['fixture case_04 (n=16, signed)', () => loadNpy(fixture('saln', 'case_04.npy')), 0.5],
  ['random clusters (n=90)', () => clusters(90, 40, 17), 0.7],
];

for (const [name, make, ratio] of batches) {
  describe(name, () => {
    const x = make();
    const n = x.shape[0]!;
    for (const solver of ['eigh', 'lanczos'] as SolverKind[]) {
      const base = selectSpectral(x, { filterRatio: ratio, solver });
      // eigh's |f| agrees to rounding; Lanczos stops once the set is certified, so its scores agree less.
      const atol = solver === 'eigh' ? 1e-9 : 1e-3;

      it(`${solver}: permuting the rows permutes the selection`, () => {
        for (let seed = 0; seed < 3; seed++) {
          manualSeed(100 + seed);
          const perm = randperm(n);
          const p = perm.toArray(); // row i of the permuted batch is row p[i] of x
          const r = selectSpectral(x.indexSelect(0, perm), { filterRatio: ratio, solver });
          assert.deepEqual(sorted(r.indices.map((i) => p[i]!)), sorted(base.indices));
          assertClose(Array.from(r.scores, (_, i) => base.scores[p[i]!]!), r.scores, { rtol: 0, atol, what: 'permuted scores' });
          assert.ok(Math.abs(r.fiedlerValue - base.fiedlerValue) <= 1e-9 * Math.abs(base.fiedlerValue));
          perm.dispose();
        }
      });

      it(`${solver}: scaling rows by positive constants changes nothing`, () => {
        manualSeed(7);
        // In float64, so that the scaled features themselves carry no float32 rounding.
        const scales = tidy(() => rand([n, 1], { dtype: 'float64' }).mul(1000).add(1e-3));
        const scaled = x.to('float64').mul(scales);
        const r = selectSpectral(scaled, { filterRatio: ratio, solver });
        assert.deepEqual(sorted(r.indices), sorted(base.indices));
        assertClose(r.scores, base.scores, { rtol: 0, atol, what: 'scores' });
        // One row alone, by a large factor.
        const one = x.mul(tensor(Float32Array.from({ length: n }, (_, i) => (i === 3 ? 1024 : 1)), { shape: [n, 1] }));
        assert.deepEqual(sorted(selectSpectral(one, { filterRatio: ratio, solver }).indices), sorted(base.indices));
        scales.dispose();
        scaled.dispose();
        one.dispose();
      });
    }
  });
}
