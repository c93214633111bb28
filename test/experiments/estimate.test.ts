/** The dry run's estimate of a grid's time left: each entry's mean over its finished runs, else its wall budget. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateRemaining, formatRemaining, type CellTime } from '../../src/experiments/estimate.js';

const cell = (entry: string, state: CellTime['state'], wallSeconds: number | null = null, budgetSeconds: number | null = null): CellTime => ({ entry, state, wallSeconds, budgetSeconds });

test('an unfinished cell costs its entry\'s mean finished wall time, else its budget, else it is counted as unknown', () => {
  const r = estimateRemaining([
    cell('c/none', 'done', 900), cell('c/none', 'done', 1100), cell('c/none', 'new'), // 1000
    cell('c/saln-wall', 'new', null, 971), cell('c/saln-wall', 'interrupted', null, 971), // 2 × 971
    cell('c/random', 'done', 300), cell('c/random', 'interrupted'), // 300
    cell('c/jest', 'waiting'), // no run, no budget
    cell('d/none', 'new'), // another dataset's entry of the same label: not c/none's time
  ]);
  assert.deepEqual(r.counts, { done: 3, interrupted: 2, new: 3, waiting: 1, lost: 0 });
  assert.equal(r.seconds, 1000 + 2 * 971 + 300);
  assert.equal(r.unknown, 2);
  assert.equal(formatRemaining(r), '9 runs: 3 done, 2 interrupted, 3 new, 1 waiting\n'
    + 'time left: about 54 min (each entry\'s mean training wall time over its finished runs, else its wall budget; one-time work such as feature extraction not included; 2 of the 6 unfinished runs have no finished run of their entry and no budget, and are not counted)\n');
});

test('a lost run (done on an earlier machine) counts as done, and its wall seconds as its entry\'s', () => {
  const r = estimateRemaining([cell('c/none', 'lost', 800), cell('c/none', 'done', 1000), cell('c/none', 'new'), cell('c/random', 'lost', 300), cell('c/random', 'new')]);
  assert.deepEqual(r.counts, { done: 1, interrupted: 0, new: 2, waiting: 0, lost: 2 });
  assert.equal(r.seconds, 900 + 300);
  assert.match(formatRemaining(r), /^5 runs: 3 done \(2 of them on an earlier machine: lost runs\), 0 interrupted, 2 new, 0 waiting\ntime left: about 20 min/);
});

test('hours past one; nothing left prints the counts only; nothing known says so', () => {
  assert.match(formatRemaining(estimateRemaining([cell('a', 'done', 4000), cell('a', 'new'), cell('a', 'new')])), /time left: about 2\.2 h \(/);
  assert.equal(formatRemaining(estimateRemaining([cell('a', 'done', 10)])), '1 run: 1 done, 0 interrupted, 0 new, 0 waiting\n');
  assert.match(formatRemaining(estimateRemaining([cell('a', 'new')])), /time left: not known yet/);
});
