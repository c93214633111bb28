/** Student-t quantiles against published table values, and the summary of a few seeds. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mean, sampleStd, studentTCdf, studentTQuantile, summarize } from '../../src/reports/stats.js';

test('t quantiles match the table values (two-sided 95%: p = 0.975)', () => {
  const table: [number, number][] = [[1, 12.706], [2, 4.303], [3, 3.182], [4, 2.776], [9, 2.262], [30, 2.042], [120, 1.980]];
  for (const [df, t] of table) assert.ok(Math.abs(studentTQuantile(0.975, df) - t) < 5e-4, `t(0.975, ${df}) = ${studentTQuantile(0.975, df)}, table ${t}`);
  assert.ok(Math.abs(studentTQuantile(0.95, 5) - 2.015) < 5e-4);
  assert.ok(Math.abs(studentTQuantile(0.975, 1e6) - 1.95996) < 1e-4, 'large df tends to the normal quantile');
  assert.ok(Math.abs(studentTQuantile(0.025, 4) + 2.776) < 5e-4, 'symmetric');
  assert.ok(Math.abs(studentTCdf(0, 3) - 0.5) < 1e-12);
  assert.throws(() => studentTQuantile(1, 3), /p must be in \(0, 1\)/);
  assert.throws(() => studentTQuantile(0.9, 0), /df must be > 0/);
});

test('mean, sample std and the 95% CI half-width of known numbers', () => {
  assert.equal(mean([1, 2, 3, 6]), 3);
  assert.ok(Math.abs(sampleStd([2, 4, 4, 4, 5, 5, 7, 9]) - Math.sqrt(32 / 7)) < 1e-12, 'n − 1 denominator');
  const s = summarize([0.8, 0.82, 0.84]);
  assert.equal(s.n, 3);
  assert.ok(Math.abs(s.mean - 0.82) < 1e-12);
  assert.ok(Math.abs(s.std! - 0.02) < 1e-12);
  assert.ok(Math.abs(s.half! - (4.3027 * 0.02) / Math.sqrt(3)) < 1e-5, `half ${s.half}`);
});

test('one value has no CI; non-finite values are skipped; none at all is NaN', () => {
  assert.deepEqual(summarize([0.7]), { n: 1, mean: 0.7, std: null, half: null });
  const s = summarize([1, Number.NaN, 3]);
  assert.equal(s.n, 2);
  assert.equal(s.mean, 2);
  assert.ok(Math.abs(s.half! - (12.7062 * Math.SQRT2) / Math.SQRT2) < 1e-3, 't(0.975, 1) · std / √2 with std √2');
  const e = summarize([]);
  assert.equal(e.n, 0);
  assert.ok(Number.isNaN(e.mean));
});
