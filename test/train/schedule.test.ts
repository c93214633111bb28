/** Filter-ratio schedules: the formulas, and the trainer keeping k per epoch from them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ratioAt } from '../../src/train/schedule.js';

test('constant, linear, cosine and step go from start to end', () => {
  const E = 5;
  const at = (kind: 'constant' | 'linear' | 'cosine' | 'step') => Array.from({ length: E }, (_, e) => ratioAt(0.2, { kind, end: 0.8 }, e, E));
  assert.deepEqual(at('constant'), [0.2, 0.2, 0.2, 0.2, 0.2]);
  const lin = at('linear');
  [0.2, 0.35, 0.5, 0.65, 0.8].forEach((v, i) => assert.ok(Math.abs(lin[i]! - v) < 1e-12, `linear ${i}`));
  const cos = at('cosine');
  assert.ok(Math.abs(cos[0]! - 0.2) < 1e-12 && Math.abs(cos[4]! - 0.8) < 1e-12 && Math.abs(cos[2]! - 0.5) < 1e-12);
  assert.ok(cos[1]! < lin[1]!, 'cosine starts slower than linear');
  assert.deepEqual(at('step'), [0.2, 0.2, 0.8, 0.8, 0.8]);
  assert.equal(ratioAt(0.3, undefined, 3, 5), 0.3);
  assert.equal(ratioAt(0.3, { kind: 'linear', end: 0.9 }, 0, 1), 0.3, 'one epoch: the start');
});
