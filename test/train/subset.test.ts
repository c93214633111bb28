/** --limit-train's class-balanced subset. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balancedSubset } from '../../src/train/run-data.js';

test('balancedSubset takes n samples, as equal per class as the counts allow, seeded', () => {
  const labels = [...Array(30).fill(0), ...Array(30).fill(1), ...Array(3).fill(2)];
  const s = balancedSubset(labels, 20, 1);
  assert.equal(s.length, 20);
  assert.equal(new Set(s).size, 20);
  const per = [0, 0, 0];
  for (const i of s) per[labels[i]!]!++;
  assert.deepEqual(per.slice(2), [3], 'a small class gives all it has');
  assert.ok(Math.abs(per[0]! - per[1]!) <= 1, `per class ${per}`);
  assert.deepEqual(balancedSubset(labels, 20, 1), s);
  assert.notDeepEqual(balancedSubset(labels, 20, 2), s);
  assert.deepEqual(s, [...s].sort((a, b) => a - b));
  assert.equal(balancedSubset(labels, 100, 1).length, labels.length);
});
