/** The seeded PRNG and stratified splits: deterministic, disjoint, per-class fractions. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deriveSeed, Rng, stratifiedSplit } from '../../src/data/index.js';

describe('Rng', () => {
  it('is deterministic per seed, and seeds differ', () => {
    const a = Array.from({ length: 5 }, ((r) => () => r.nextU32())(new Rng(7)));
    const b = Array.from({ length: 5 }, ((r) => () => r.nextU32())(new Rng(7)));
    const c = Array.from({ length: 5 }, ((r) => () => r.nextU32())(new Rng(8)));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });
  it('gives uniform-looking values in [0, 1) and true permutations', () => {
    const r = new Rng(1);
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const v = r.next();
      assert.ok(v >= 0 && v < 1);
      sum += v;
    }
    assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
    const p = r.permutation(100);
    assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  });
  it('derives different seeds from different parts', () => {
    assert.equal(deriveSeed(1, 'a', 2), deriveSeed(1, 'a', 2));
    assert.notEqual(deriveSeed(1, 'a', 2), deriveSeed(1, 'a', 3));
    assert.notEqual(deriveSeed(12), deriveSeed('12'));
  });
});

describe('stratifiedSplit', () => {
  const labels = Array.from({ length: 5000 }, (_, i) => i % 10);
  it('takes round(fraction · n) of every class, disjoint and complete', () => {
    const { keep, take } = stratifiedSplit(labels, 0.1, 0);
    assert.equal(take.length, 500);
    assert.equal(keep.length, 4500);
    const counts = new Array(10).fill(0);
    for (const i of take) counts[labels[i]!]++;
    assert.deepEqual(counts, new Array(10).fill(50));
    assert.deepEqual([...keep, ...take].sort((a, b) => a - b), labels.map((_, i) => i));
  });
  it('is deterministic given the seed, and another seed picks others', () => {
    assert.deepEqual(stratifiedSplit(labels, 0.2, 3), stratifiedSplit(labels, 0.2, 3));
    assert.notDeepEqual(stratifiedSplit(labels, 0.2, 3).take, stratifiedSplit(labels, 0.2, 4).take);
  });
  it('keeps and gives at least one sample of each class with 2 or more', () => {
    const { keep, take } = stratifiedSplit([0, 0, 1, 1, 1, 2], 0.01, 0);
    assert.equal(take.length, 2);
    assert.equal(keep.length, 4);
    assert.throws(() => stratifiedSplit(labels, 1, 0), /\[0, 1\)/);
  });
});
