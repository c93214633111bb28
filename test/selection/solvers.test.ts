/**
 * The solvers' parts: the tridiagonal eigensolver against LAPACK, and Lanczos's certificate,
 * deflation and fallback.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadNpy } from '../../src/io/index.js';
import { fiedlerEigh, fiedlerLanczos, gramLaplacian, denseLaplacian, normalizeRows, gram, selectSpectral } from '../../src/selection/index.js';
import { eigenvectors, smallestEigenvalues } from '../../src/selection/tridiagonal.js';
import { eigh, tensor, tidy } from '../../src/tensor/index.js';
import { assertClose, fixture } from '../helpers.js';

function denseTridiagonal(alpha: number[], beta: number[]): number[][] {
  const m = alpha.length;
  return Array.from({ length: m }, (_, i) => Array.from({ length: m }, (_, j) => (i === j ? alpha[i]! : Math.abs(i - j) === 1 ? beta[Math.min(i, j)]! : 0)));
}

describe('tridiagonal eigensolver', () => {
  const cases: [string, number[], number[]][] = [
    ['random', Array.from({ length: 40 }, (_, i) => Math.sin(i * 1.7) * 3), Array.from({ length: 39 }, (_, i) => 0.5 + Math.cos(i * 0.9))],
    ['1-2-1 (known spectrum)', Array(25).fill(2), Array(24).fill(-1)],
    ['split (a zero off-diagonal)', [1, 2, 3, 4, 5], [0.5, 0, 0.25, 0.1]],
    ['one row', [3.5], []],
  ];
  for (const [name, alpha, beta] of cases) {
    it(`${name}: the lowest eigenpairs agree with LAPACK`, () => {
      const count = Math.min(3, alpha.length);
      const mu = smallestEigenvalues({ alpha, beta }, count);
      const w = tidy(() => eigh(tensor(denseTridiagonal(alpha, beta), { dtype: 'float64' }))[0].toTypedArray<'float64'>());
      assertClose(mu, Array.from(w.subarray(0, count)), { rtol: 0, atol: 1e-12, what: 'eigenvalues' });
      const t = denseTridiagonal(alpha, beta);
      eigenvectors({ alpha, beta }, mu).forEach((v, k) => {
        const tv = t.map((row) => row.reduce((s, a, j) => s + a * v[j]!, 0));
        assertClose(tv, Array.from(v, (x) => x * mu[k]!), { rtol: 0, atol: 1e-10, what: `T v${k}` });
      });
    });
  }
  it('the 1-2-1 matrix has eigenvalues 2 − 2cos(kπ/(m+1))', () => {
    const mu = smallestEigenvalues({ alpha: Array(25).fill(2), beta: Array(24).fill(-1) }, 3);
    assertClose(mu, [1, 2, 3].map((k) => 2 - 2 * Math.cos((k * Math.PI) / 26)), { rtol: 0, atol: 1e-14 });
  });
});

describe('Lanczos', () => {
  const x = loadNpy(fixture('saln', 'case_03.npy'));
  it('matrix-free and dense operators give the eigh eigenpair, run to the floor without a tolerance', () => {
    tidy(() => {
      const xn = normalizeRows(x);
      const ref = fiedlerEigh(denseLaplacian(gram(xn), 'unnormalized'));
      for (const op of [gramLaplacian(xn, 'unnormalized'), denseLaplacian(gram(xn), 'unnormalized')]) {
        const r = fiedlerLanczos(op);
        assert.ok(r.converged);
        assert.ok(Math.abs(r.value - ref.value) < 1e-9 * ref.value, `${r.value} vs ${ref.value}`);
        const dot = Math.abs(r.vector.matmul(ref.vector).item());
        assert.ok(1 - dot < 1e-12, `|<u, u_eigh>| = ${dot}`);
        // Orthogonal to the deflated constant vector.
        assert.ok(Math.abs(r.vector.sum().item()) < 1e-10);
      }
    });
  });
  it('stops early once the selection is certified, and its error bound holds', () => {
    tidy(() => {
      const xn = normalizeRows(x);
      const ref = fiedlerEigh(denseLaplacian(gram(xn), 'unnormalized'));
      const r = fiedlerLanczos(gramLaplacian(xn, 'unnormalized'), { tolerance: () => 1e-3 });
      assert.ok(r.converged && r.iterations < 100);
      const err = Math.min(r.vector.sub(ref.vector).norm().item(), r.vector.add(ref.vector).norm().item());
      assert.ok(err <= r.errorBound, `error ${err} exceeds the bound ${r.errorBound}`);
    });
  });
  it('falls back to eigh when it cannot certify within maxIterations', () => {
    const a = selectSpectral(x, { filterRatio: 0.9, solver: 'lanczos', maxIterations: 3 });
    assert.equal(a.solver, 'eigh');
    const b = selectSpectral(x, { filterRatio: 0.9, solver: 'lanczos', maxIterations: 3, fallback: false });
    assert.equal(b.solver, 'lanczos');
    assert.equal(b.iterations, 3);
  });
  it('small batches: the Krylov space fills up and the result is exact', () => {
    const y = loadNpy(fixture('saln', 'case_04.npy'));
    const a = selectSpectral(y, { filterRatio: 0.5, solver: 'eigh' });
    const b = selectSpectral(y, { filterRatio: 0.5, solver: 'lanczos' });
    assert.deepEqual([...b.indices].sort((p, q) => p - q), [...a.indices].sort((p, q) => p - q));
  });
});
