/**
 * The options beyond the paper (normalized Laplacians, clampNegative, knn), the cosine graph's
 * details, and the input checks of selectSpectral.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadNpy } from '../../src/io/index.js';
import {
  cosineSimilarity, denseLaplacian, fiedlerEigh, graphWeights, rankByScore, selectSpectral, type LaplacianKind,
} from '../../src/selection/index.js';
import { eigh, eye, manualSeed, randn, randint, tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { assertClose, fixture } from '../helpers.js';

const sorted = (a: number[]): number[] => [...a].sort((x, y) => x - y);

/** Nonnegative clustered features, like pooled CNN embeddings (the reference's 'clusters'). */
function clusters(n: number, d: number, seed: number): Tensor {
  manualSeed(seed);
  return tidy(() => {
    const centers = randn([3, d]).relu();
    return centers.indexSelect(0, randint(0, 3, [n])).add(randn([n, d]).mul(0.8)).relu();
  });
}

/** Signed features (the reference's 'pixels'): cosine similarities of both signs. */
function signed(n: number, d: number, seed: number): Tensor {
  manualSeed(seed);
  return tidy(() => randn([n, d]).add(randn([1, d]).mul(0.3)));
}

/** Plain-JS dense matrix from a tensor [n, n]. */
function rows(t: Tensor): number[][] {
  const n = t.shape[0]!;
  const a = t.to('float64').toTypedArray<'float64'>();
  return Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * n, (i + 1) * n)));
}

describe('cosine similarity', () => {
  it('is float64, 1 on the diagonal, and 0 for a zero row (itself included), as scikit-learn', () => {
    const x = tensor([[3, 4, 0], [0, 0, 0], [1, 0, 0], [-3, -4, 0]], { dtype: 'float32' });
    const s = cosineSimilarity(x);
    assert.equal(s.dtype, 'float64');
    const m = rows(s);
    assertClose(m[0]!, [1, 0, 0.6, -1], { atol: 1e-15 });
    assert.deepEqual(m[1], [0, 0, 0, 0]);
    assertClose(m[2]!, [0.6, 0, 1, -0.6], { atol: 1e-15 });
  });
  it('a zero row does not break the selection', () => {
    const x = clusters(40, 16, 3);
    x.select(0, 5).zero_();
    const r = selectSpectral(x, { filterRatio: 0.5, solver: 'eigh' });
    assert.equal(r.indices.length, 20);
    assert.ok(r.scores.every(Number.isFinite));
  });
});

describe('normalized Laplacians (beyond the paper)', () => {
  const x = clusters(60, 32, 7);
  for (const kind of ['symmetric', 'random-walk'] as LaplacianKind[]) {
    it(`${kind}: eigh and lanczos keep the same set`, () => {
      const a = selectSpectral(x, { filterRatio: 0.75, solver: 'eigh', laplacian: kind });
      const b = selectSpectral(x, { filterRatio: 0.75, solver: 'lanczos', laplacian: kind });
      assert.deepEqual(sorted(b.indices), sorted(a.indices));
      assert.ok(Math.abs(a.fiedlerValue - b.fiedlerValue) < 1e-9);
    });
  }
  it('symmetric: f solves (I − D^-1/2 S D^-1/2) f = λ f, with λ the 2nd-smallest eigenvalue', () => {
    const r = selectSpectral(x, { filterRatio: 0.75, solver: 'eigh', laplacian: 'symmetric' });
    tidy(() => {
      const s = cosineSimilarity(x);
      const dis = s.sum(1).rsqrt();
      const l = s.mul(dis.unsqueeze(1)).mul(dis.unsqueeze(0)).neg().add(eye(60, { dtype: 'float64' }));
      const w = eigh(l)[0].toTypedArray<'float64'>();
      assert.ok(Math.abs(w[1]! - r.fiedlerValue) < 1e-10);
    });
  });
  it('random-walk: the same eigenvalue as symmetric, and |f| ∝ |D^-1/2 u| solves (I − D^-1 S) f = λ f', () => {
    const sym = selectSpectral(x, { filterRatio: 0.75, solver: 'eigh', laplacian: 'symmetric' });
    const rw = selectSpectral(x, { filterRatio: 0.75, solver: 'eigh', laplacian: 'random-walk' });
    assert.ok(Math.abs(sym.fiedlerValue - rw.fiedlerValue) < 1e-10);
    tidy(() => {
      const s = cosineSimilarity(x);
      const deg = s.sum(1);
      // Recover the signed f from the symmetric solution, then check the non-symmetric equation.
      const op = denseLaplacian(s, 'symmetric');
      const u = fiedlerEigh(op).vector;
      const f = u.mul(deg.rsqrt());
      const fn = f.div(f.norm());
      assertClose(fn.abs().toTypedArray<'float64'>(), rw.scores, { atol: 1e-10, what: '|f|' });
      const lf = fn.sub(s.matmul(fn).div(deg));
      assertClose(lf.toTypedArray<'float64'>(), fn.mul(rw.fiedlerValue).toTypedArray<'float64'>(), { atol: 1e-10, what: 'L_rw f' });
    });
  });
  it('refuses a zero-degree sample with a clear message', () => {
    const z = clusters(20, 8, 1);
    z.select(0, 3).zero_();
    assert.throws(() => selectSpectral(z, { filterRatio: 0.5, laplacian: 'symmetric' }), /'symmetric' Laplacian needs every degree > 0, but sample 3 has degree 0/);
  });
});

describe('clampNegative (beyond the paper)', () => {
  const x = signed(50, 20, 11);
  it('sets exactly the negative similarities to 0', () => {
    tidy(() => {
      const s = cosineSimilarity(x);
      assert.ok(s.lt(0).any().item(), 'the data has negative similarities');
      const w = graphWeights(s, { clampNegative: true });
      assert.equal(w.lt(0).any().item(), 0);
      assert.equal(w.sub(s).abs().maskedFill(s.lt(0), 0).amax().item(), 0);
    });
  });
  it('gives the eigh solution of the clamped graph, with both solvers', () => {
    const a = selectSpectral(x, { filterRatio: 0.5, solver: 'eigh', clampNegative: true });
    const b = selectSpectral(x, { filterRatio: 0.5, solver: 'lanczos', clampNegative: true });
    assert.deepEqual(sorted(b.indices), sorted(a.indices));
    tidy(() => {
      const w = cosineSimilarity(x).maximum(0);
      const value = eigh(w.sum(1).diagEmbed().sub(w))[0].toTypedArray<'float64'>()[1]!;
      assert.ok(Math.abs(a.fiedlerValue - value) < 1e-10);
    });
  });
  it('changes nothing on nonnegative features', () => {
    const y = clusters(40, 16, 2);
    const a = selectSpectral(y, { filterRatio: 0.5, solver: 'eigh' });
    const b = selectSpectral(y, { filterRatio: 0.5, solver: 'eigh', clampNegative: true });
    assert.deepEqual(b.indices, a.indices);
  });
});

describe('knn graph (beyond the paper)', () => {
  const x = clusters(50, 24, 5);
  it('links each sample to at least its knn most similar others, symmetrically, keeping the diagonal', () => {
    tidy(() => {
      const s = cosineSimilarity(x);
      const m = rows(graphWeights(s, { knn: 4 }));
      const full = rows(s);
      for (let i = 0; i < 50; i++) {
        assert.equal(m[i]![i], full[i]![i]);
        const links = m[i]!.filter((v, j) => j !== i && v !== 0).length;
        assert.ok(links >= 4 && links < 49, `row ${i} has ${links} links`);
        for (let j = 0; j < 50; j++) {
          assert.equal(m[i]![j], m[j]![i]);
          if (m[i]![j] !== 0) assert.equal(m[i]![j], full[i]![j]);
        }
        // The 4 largest off-diagonal similarities of row i are kept.
        const top = full[i]!.map((v, j) => [v, j] as const).filter(([, j]) => j !== i).sort((a, b) => b[0] - a[0]).slice(0, 4);
        for (const [, j] of top) assert.notEqual(m[i]![j], 0);
      }
    });
  });
  it('knn >= n - 1 is the full graph', () => {
    const a = selectSpectral(x, { filterRatio: 0.8, solver: 'eigh' });
    const b = selectSpectral(x, { filterRatio: 0.8, solver: 'eigh', knn: 49 });
    assert.deepEqual(b.indices, a.indices);
    assert.equal(b.fiedlerValue, a.fiedlerValue);
  });
  it('eigh and lanczos keep the same set on a kNN graph', () => {
    // knn = 30 keeps this batch's graph connected (at 15 it splits into its clusters, and the
    // Fiedler value 0 is repeated: then no solver's Fiedler vector is unique).
    const y = loadNpy(fixture('saln', 'case_02.npy'));
    const a = selectSpectral(y, { filterRatio: 0.8, solver: 'eigh', knn: 30 });
    const b = selectSpectral(y, { filterRatio: 0.8, solver: 'lanczos', knn: 30 });
    assert.ok(a.fiedlerValue > 1, 'a connected graph');
    assert.deepEqual(sorted(b.indices), sorted(a.indices));
    assert.ok(Math.abs(a.fiedlerValue - b.fiedlerValue) < 1e-9 * a.fiedlerValue);
  });
});

describe('indefinite Laplacians (signed similarities)', () => {
  it('takes the 2nd-smallest eigenvalue, negative ones included, with both solvers', () => {
    // Few dimensions and signed values: several negative eigenvalues of D − S.
    const x = signed(120, 12, 21);
    const w = tidy(() => {
      const s = cosineSimilarity(x);
      return eigh(s.sum(1).diagEmbed().sub(s))[0].toTypedArray<'float64'>();
    });
    assert.ok(w[1]! < 0, 'the case has at least two negative eigenvalues');
    const a = selectSpectral(x, { filterRatio: 0.5, solver: 'eigh' });
    const b = selectSpectral(x, { filterRatio: 0.5, solver: 'lanczos' });
    assert.ok(Math.abs(a.fiedlerValue - w[1]!) < 1e-9);
    assert.ok(Math.abs(b.fiedlerValue - w[1]!) < 1e-9);
    assert.deepEqual(sorted(b.indices), sorted(a.indices));
  });
  it('takes the null vector when exactly one eigenvalue is negative (μ₁ < 0 ≤ μ₂), with both solvers', () => {
    const x = signed(20, 20, 7);
    const w = tidy(() => {
      const s = cosineSimilarity(x);
      return eigh(s.sum(1).diagEmbed().sub(s))[0].toTypedArray<'float64'>();
    });
    assert.ok(w[0]! < -0.1 && Math.abs(w[1]!) < 1e-12 && w[2]! > 0.1, `the case has one negative eigenvalue: ${w.slice(0, 3).join(', ')}`);
    for (const solver of ['eigh', 'lanczos'] as const) {
      const r = selectSpectral(x, { filterRatio: 0.5, solver });
      assert.equal(r.solver, solver);
      assert.ok(Math.abs(r.fiedlerValue) < 1e-12, `${solver}: Fiedler value ${r.fiedlerValue}`);
      // The constant vector: every |f| is 1/√n (the kept set is then a tie; each solver breaks it its own way).
      for (const v of r.scores) assert.ok(Math.abs(v - 1 / Math.sqrt(20)) < 1e-12, `${solver}: score ${v}`);
    }
  });
});

describe('ranking', () => {
  it('orders by descending score, ties by ascending index', () => {
    assert.deepEqual(rankByScore(Float64Array.from([0.5, 0.9, 0.5, 0.9, 0.1])), [1, 3, 0, 2, 4]);
  });
  it('gives duplicate samples the same score', () => {
    const x = clusters(30, 16, 9);
    x.select(0, 12).copy_(x.select(0, 4));
    const r = selectSpectral(x, { filterRatio: 0, solver: 'eigh' });
    assert.equal(r.indices.length, 30);
    assert.ok(Math.abs(r.scores[4]! - r.scores[12]!) < 1e-12);
  });
});

describe('input checks', () => {
  const x = clusters(16, 8, 4);
  const bad = (o: Parameters<typeof selectSpectral>[1], re: RegExp, features: Parameters<typeof selectSpectral>[0] = x): void => {
    assert.throws(() => selectSpectral(features, o), re);
  };
  it('filterRatio must be in [0, 1)', () => {
    for (const r of [-0.1, 1, 1.5, Number.NaN]) bad({ filterRatio: r }, /Expected a number in \[0, 1\) .* for filterRatio/);
    bad({ filterRatio: '0.5' as unknown as number }, /for filterRatio but received "0.5"/);
  });
  it('k = 0 names the batch size and the ratio', () => {
    bad({ filterRatio: 0.95 }, /batch of 16 samples with filter ratio 0\.95 keeps .* = 0 samples; use a batch of at least 20/);
  });
  it('n < 2', () => {
    bad({ filterRatio: 0.5 }, /at least 2 samples, but features has 1/, x.narrow(0, 0, 1));
  });
  it('NaN or Inf names the first bad row', () => {
    const y = x.clone();
    y.select(0, 9).select(0, 2).fill_(Number.NaN);
    y.select(0, 11).select(0, 0).fill_(Infinity);
    bad({ filterRatio: 0.5 }, /NaN or Inf: the first bad row is 9 \(value NaN at column 2\)/, y);
    const data = new Float32Array(12);
    data[7] = -Infinity;
    bad({ filterRatio: 0.5 }, /first bad row is 1 \(value -Infinity at column 3\)/, { data, n: 3, d: 4 });
  });
  it('n × d must match the Float32Array', () => {
    bad({ filterRatio: 0.5 }, /n × d = 4 × 3 = 12 values expected, but data has 11/, { data: new Float32Array(11), n: 4, d: 3 });
    bad({ filterRatio: 0.5 }, /for features\.d/, { data: new Float32Array(4), n: 4, d: 0 });
    bad({ filterRatio: 0.5 }, /Float32Array or Float64Array for features\.data/, { data: [1, 2] as unknown as Float32Array, n: 1, d: 2 });
  });
  it('rank-1 tensors and misspelt options', () => {
    bad({ filterRatio: 0.5 }, /rank >= 2/, tensor([1, 2, 3]));
    bad({ filter_ratio: 0.5 } as unknown as { filterRatio: number }, /Unknown option "filter_ratio" \(did you mean "filterRatio"\?\)/);
    bad({ filterRatio: 0.5, knn: 0 }, /integer >= 1 for knn/);
    bad({ filterRatio: 0.5, solver: 'lobpcg' as 'eigh' }, /one of auto, eigh, lanczos for solver/);
    bad({ filterRatio: 0.5, knn: 3, matrixFree: true }, /matrixFree needs the plain cosine graph/);
  });
  it('flattens rank > 2 features per row', () => {
    const img = clusters(24, 48, 6);
    const a = selectSpectral(img.reshape(24, 3, 4, 4), { filterRatio: 0.5, solver: 'eigh' });
    const b = selectSpectral(img, { filterRatio: 0.5, solver: 'eigh' });
    assert.deepEqual(a.indices, b.indices);
  });
});

describe('features from a model in training', () => {
  it('a tensor that requires grad is read without autograd, and left unchanged', () => {
    const x = clusters(20, 8, 12).requiresGrad_(true);
    const before = x.toTypedArray<'float32'>();
    const r = selectSpectral(x, { filterRatio: 0.5 });
    assert.equal(r.indices.length, 10);
    assert.deepEqual(x.toTypedArray<'float32'>(), before);
    assert.equal(x.grad, null);
  });
});
