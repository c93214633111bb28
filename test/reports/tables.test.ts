/** Tables from hand-made runs: CIs from known numbers, differences to none and random, time to target. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTables } from '../../src/reports/tables.js';
import { curveCharts } from '../../src/reports/charts.js';
import { accuracyWithin, epochSeries, timeToTarget, validationSeries } from '../../src/reports/series.js';
import { formatStat, formatSummaryTable } from '../../src/reports/table-format.js';
import { fakeRun, type FakePoint } from './fixtures.js';

const T2 = 4.302653; // t(0.975, 2)

function threeMethods() {
  return [
    fakeRun({ id: 1, label: 'none', seed: 0, test: 0.85, wall: 30 }),
    fakeRun({ id: 2, label: 'none', seed: 1, test: 0.86, wall: 31 }),
    fakeRun({ id: 3, label: 'none', seed: 2, test: 0.87, wall: 32 }),
    fakeRun({ id: 4, label: 'random', seed: 0, ratio: 0.8, test: 0.78, wall: 10 }),
    fakeRun({ id: 5, label: 'random', seed: 1, ratio: 0.8, test: 0.79, wall: 11 }),
    fakeRun({ id: 6, label: 'random', seed: 2, ratio: 0.8, test: 0.80, wall: 12 }),
    fakeRun({ id: 7, label: 'saln', seed: 0, ratio: 0.8, test: 0.80, wall: 14 }),
    fakeRun({ id: 8, label: 'saln', seed: 1, ratio: 0.8, test: 0.82, wall: 14 }),
    fakeRun({ id: 9, label: 'saln', seed: 2, ratio: 0.8, test: 0.84, wall: 14 }),
  ];
}

test('rows per label with mean ± 95% CI over seeds', () => {
  const t = buildTables(threeMethods());
  assert.equal(t.datasets.length, 1);
  const rows = t.datasets[0]!.rows;
  assert.deepEqual(rows.map((r) => r.label), ['none', 'random', 'saln']);
  const saln = rows[2]!;
  assert.equal(saln.n, 3);
  assert.deepEqual(saln.seeds, [0, 1, 2]);
  assert.ok(Math.abs(saln.testAccuracy.mean - 0.82) < 1e-12);
  assert.ok(Math.abs(saln.testAccuracy.half! - (T2 * 0.02) / Math.sqrt(3)) < 1e-6);
  assert.equal(saln.wallSeconds.half, 0, 'identical wall times: a zero-width interval');
  assert.equal(formatStat(saln.testAccuracy, 'pct'), '82.0 ± 5.0');
  assert.equal(saln.gradientSamples.mean, 100);
  assert.equal(saln.optimizerSteps.mean, 10);
  assert.ok(Math.abs(saln.phases.train.mean - 13.7) < 1e-9);
});

test('each method minus none and minus random, paired by seed', () => {
  const rows = buildTables(threeMethods()).datasets[0]!.rows;
  const [none, random, saln] = rows as [typeof rows[0], typeof rows[0], typeof rows[0]];
  assert.equal(none.vsNone, null, 'none is not compared with itself');
  assert.equal(none.vsRandom, null, 'no random at ratio 0');
  assert.equal(random.vsRandom, null);
  assert.ok(random.vsNone);
  const c = saln.vsRandom!;
  assert.equal(c.against, 'random');
  assert.equal(c.pairs, 3);
  // saln − random per seed: 0.02, 0.03, 0.04 (mean 0.03, std 0.01); wall 4, 3, 2 s.
  assert.ok(Math.abs(c.testAccuracy.mean - 0.03) < 1e-12);
  assert.ok(Math.abs(c.testAccuracy.half! - (T2 * 0.01) / Math.sqrt(3)) < 1e-6);
  assert.ok(Math.abs(c.wallSeconds.mean - 3) < 1e-12);
  assert.ok(Math.abs(c.wallSeconds.half! - (T2 * 1) / Math.sqrt(3)) < 1e-6);
  assert.ok(Math.abs(c.wallRatio - 14 / 11) < 1e-12);
  assert.ok(Math.abs(saln.vsNone!.testAccuracy.mean + 0.04) < 1e-12);
  const text = formatSummaryTable(threeMethods());
  assert.match(text, /saln .* \+3\.0 ± 2\.5 .* \+3\.00 ± 2\.48/);
});

test('random is only a control at the same filter ratio; without common seeds the difference is unpaired', () => {
  const runs = [
    fakeRun({ id: 1, label: 'random', seed: 0, ratio: 0.5, test: 0.7, wall: 10 }),
    fakeRun({ id: 2, label: 'saln', seed: 0, ratio: 0.8, test: 0.8, wall: 10 }),
    fakeRun({ id: 3, label: 'saln-50', method: 'saln', seed: 5, ratio: 0.5, test: 0.75, wall: 12 }),
  ];
  const rows = buildTables(runs).datasets[0]!.rows;
  const byLabel = new Map(rows.map((r) => [r.label, r]));
  assert.equal(byLabel.get('saln')!.vsRandom, null);
  const c = byLabel.get('saln-50')!.vsRandom!;
  assert.equal(c.pairs, 0);
  assert.ok(Math.abs(c.testAccuracy.mean - 0.05) < 1e-12);
  assert.equal(c.testAccuracy.half, null);
  assert.match(formatSummaryTable(runs), /\+5\.0 ± n\/a \(unpaired\)|\+5\.0 \(unpaired\)/);
});

test('time to target: cumulative wall seconds to the first epoch at or above it, and how many seeds got there', () => {
  const ep = (vals: number[]) => vals.map((val) => ({ val, wall: 2 }));
  const runs = [
    fakeRun({ id: 1, label: 'none', seed: 0, test: 0.9, wall: 6, epochs: ep([0.5, 0.7, 0.9]) }),
    fakeRun({ id: 2, label: 'none', seed: 1, test: 0.9, wall: 6, epochs: ep([0.6, 0.65, 0.69]) }),
    fakeRun({ id: 3, label: 'saln', seed: 0, test: 0.9, wall: 6, ratio: 0.5, epochs: ep([0.75, 0.8, 0.9]) }),
  ];
  const row = (label: string, target?: number) => buildTables(runs, { targetAccuracy: target }).datasets[0]!.rows.find((r) => r.label === label)!;
  assert.deepEqual([row('none', 0.7).timeToTarget!.reached, row('none', 0.7).timeToTarget!.of], [1, 2]);
  assert.equal(row('none', 0.7).timeToTarget!.seconds.mean, 4);
  assert.equal(row('saln', 0.7).timeToTarget!.seconds.mean, 2);
  assert.equal(row('saln', 0.95).timeToTarget!.reached, 0);
  // Auto: the lowest label's mean best val accuracy, (0.9 + 0.69) / 2 = 0.795, floored to 0.79.
  const t = buildTables(runs);
  assert.equal(t.datasets[0]!.target, 0.79);
  assert.equal(t.datasets[0]!.targetSource, 'auto');
  assert.throws(() => buildTables(runs, { targetAccuracy: 80 }), /targetAccuracy: expected a fraction/);
});

test('the trainer\'s cumulative record wins over summing epochs', () => {
  const r = fakeRun({ id: 1, label: 'none', seed: 0, test: 0.9, wall: 6, epochs: [{ val: 0.5, wall: 2 }, { val: 0.9, wall: 2 }] });
  (r.metrics[1] as unknown as { cumulative: object }).cumulative = { wall_seconds: 7.5, gradient_samples: 150 };
  assert.equal(buildTables([r], { targetAccuracy: 0.8 }).datasets[0]!.rows[0]!.timeToTarget!.seconds.mean, 7.5);
});

test('datasets are separate tables; incomplete runs are left out and listed; one seed shows no CI', () => {
  const runs = [
    fakeRun({ id: 1, label: 'none', seed: 0, test: 0.9, wall: 5, dataset: 'pets' }),
    fakeRun({ id: 2, label: 'none', seed: 0, test: 0.5, wall: 5, dataset: 'cifar10' }),
    fakeRun({ id: 3, label: 'none', seed: 1, test: 0.1, wall: 5, dataset: 'cifar10', status: 'incomplete' }),
  ];
  const t = buildTables(runs);
  assert.deepEqual(t.datasets.map((d) => d.dataset), ['cifar10', 'pets']);
  assert.equal(t.datasets[0]!.rows[0]!.n, 1);
  assert.equal(t.datasets[0]!.rows[0]!.testAccuracy.mean, 0.5, 'the incomplete run is not averaged in');
  assert.deepEqual(t.incomplete.map((r) => r.id), [3]);
  const text = formatSummaryTable(runs);
  assert.match(text, /dataset cifar10/);
  assert.match(text, /dataset pets/);
  assert.match(text, /50\.0 ± n\/a/);
  assert.match(text, /incomplete runs \(left out\): #3/);
  assert.match(formatSummaryTable([]), /no complete runs/);
});

test('equal budgets: each method\'s best validation accuracy within the cheapest method\'s wall time and gradient samples', () => {
  // none: 3 epochs of 4 s and 100 samples; saln: 3 epochs of 1 s and 20 samples (budgets: 3 s, 60 samples).
  const runs = [
    fakeRun({ id: 1, label: 'none', seed: 0, test: 0.9, wall: 12, epochs: [{ val: 0.5, wall: 4 }, { val: 0.7, wall: 4 }, { val: 0.9, wall: 4 }] }),
    fakeRun({ id: 2, label: 'none', seed: 1, test: 0.9, wall: 12, epochs: [{ val: 0.4, wall: 2 }, { val: 0.8, wall: 2 }, { val: 0.9, wall: 8 }] }),
    fakeRun({ id: 3, label: 'saln', seed: 0, ratio: 0.8, test: 0.6, wall: 3, epochs: [0.3, 0.6, 0.55].map((val) => ({ val, wall: 1, trained: 20 })) }),
    fakeRun({ id: 4, label: 'saln', seed: 1, ratio: 0.8, test: 0.6, wall: 3, epochs: [0.2, 0.4, 0.5].map((val) => ({ val, wall: 1, trained: 20 })) }),
  ];
  const d = buildTables(runs).datasets[0]!;
  assert.deepEqual(d.budget, { seconds: 3, gradientSamples: 60 });
  const row = (l: string) => d.rows.find((r) => r.label === l)!;
  // Within 3 s: none seed 0 has no epoch done (first ends at 4 s); seed 1 reached 0.4 at 2 s.
  assert.deepEqual([row('none').atSeconds!.reached, row('none').atSeconds!.of, row('none').atSeconds!.accuracy.mean], [1, 2, 0.4]);
  // saln: best within 3 s is its best epoch: (0.6 + 0.5) / 2.
  assert.ok(Math.abs(row('saln').atSeconds!.accuracy.mean - 0.55) < 1e-12);
  // Within 60 gradient samples none has no epoch (100 each); saln has all three.
  assert.equal(row('none').atSamples!.reached, 0);
  assert.equal(row('saln').atSamples!.reached, 2);
});

test('the random control matches the selection mode too', () => {
  const runs = [
    fakeRun({ id: 1, label: 'random', seed: 0, ratio: 0.8, test: 0.5, wall: 10 }),
    fakeRun({ id: 2, label: 'random-super', method: 'random', mode: 'super-batch', seed: 0, ratio: 0.8, test: 0.7, wall: 20 }),
    fakeRun({ id: 3, label: 'saln', seed: 0, ratio: 0.8, test: 0.55, wall: 11 }),
    fakeRun({ id: 4, label: 'saln-super', method: 'saln', mode: 'super-batch', seed: 0, ratio: 0.8, test: 0.72, wall: 21 }),
  ];
  const rows = buildTables(runs).datasets[0]!.rows;
  const row = (l: string) => rows.find((r) => r.label === l)!;
  assert.equal(row('saln').vsRandom!.against, 'random');
  assert.equal(row('saln-super').vsRandom!.against, 'random-super');
  assert.ok(Math.abs(row('saln-super').vsRandom!.testAccuracy.mean - 0.02) < 1e-12);
});

test('the random control has the same kind of budget: an equal-wall-time entry meets random at equal wall time', () => {
  const runs = [
    fakeRun({ id: 1, label: 'random-0.8', method: 'random', seed: 0, ratio: 0.8, test: 0.5, wall: 10 }),
    fakeRun({ id: 2, label: 'random-0.8-wall', method: 'random', seed: 0, ratio: 0.8, test: 0.7, wall: 30, budgetSeconds: 30 }),
    fakeRun({ id: 3, label: 'saln-0.8', method: 'saln', seed: 0, ratio: 0.8, test: 0.55, wall: 11 }),
    fakeRun({ id: 4, label: 'saln-0.8-wall', method: 'saln', seed: 0, ratio: 0.8, test: 0.68, wall: 30, budgetSeconds: 30 }),
  ];
  const rows = buildTables(runs).datasets[0]!.rows;
  const row = (l: string) => rows.find((r) => r.label === l)!;
  assert.equal(row('saln-0.8').vsRandom!.against, 'random-0.8');
  assert.equal(row('saln-0.8-wall').vsRandom!.against, 'random-0.8-wall');
  assert.ok(Math.abs(row('saln-0.8-wall').vsRandom!.testAccuracy.mean + 0.02) < 1e-12);
});

test('--eval-every points: a budget inside the expensive method\'s first epoch finds them; without them it finds nothing', () => {
  // none: 2 epochs of 4 s and 100 samples; saln: 3 epochs of 1 s and 20 samples (budgets: 3 s, 60 samples).
  const none = (id: number, points?: FakePoint[]) => fakeRun({ id, label: 'none', seed: 0, test: 0.9, wall: 8, epochs: [{ val: 0.5, wall: 4, points }, { val: 0.9, wall: 4 }] });
  const saln = fakeRun({ id: 2, label: 'saln', seed: 0, ratio: 0.8, test: 0.6, wall: 3, epochs: [0.3, 0.6, 0.55].map((val) => ({ val, wall: 1, trained: 20 })) });
  const at = (runs: ReturnType<typeof fakeRun>[]) => {
    const d = buildTables(runs, { targetAccuracy: 0.42 }).datasets[0]!;
    const row = d.rows.find((r) => r.label === 'none')!;
    return { budget: d.budget, seconds: row.atSeconds!, samples: row.atSamples!, ttt: row.timeToTarget!.seconds.mean };
  };
  const without = at([none(1), saln]);
  assert.deepEqual(without.budget, { seconds: 3, gradientSamples: 60 });
  assert.equal(without.seconds.reached, 0, 'the first epoch ends at 4 s');
  assert.equal(without.samples.reached, 0, 'the first epoch ends at 100 samples');
  assert.equal(without.ttt, 4);
  // Validations at 50 samples (1.5 s, 35%) and 75 samples (2.5 s, 45%) inside the first epoch.
  const withPoints = at([none(1, [{ val: 0.35, samples: 50, wall: 1.5 }, { val: 0.45, samples: 75, wall: 2.5 }]), saln]);
  assert.deepEqual(withPoints.budget, without.budget);
  assert.deepEqual([withPoints.samples.reached, withPoints.samples.accuracy.mean], [1, 0.35]);
  assert.deepEqual([withPoints.seconds.reached, withPoints.seconds.accuracy.mean], [1, 0.45]);
  assert.equal(withPoints.ttt, 2.5, 'time to target at the first point that reaches it');
  // The series: epoch ends and points by gradient samples, the points at fractional epochs.
  const series = validationSeries(none(1, [{ val: 0.35, samples: 50, wall: 1.5 }, { val: 0.45, samples: 75, wall: 2.5 }]).metrics);
  assert.deepEqual(series.map((p) => [p.epoch, p.gradientSamples, p.wallSeconds, p.valAccuracy]), [[0.5, 50, 1.5, 0.35], [0.75, 75, 2.5, 0.45], [1, 100, 4, 0.5], [2, 200, 8, 0.9]]);
});

test('runs without val_points: validationSeries is epochSeries, and the lookups are as before', () => {
  const r = fakeRun({ id: 1, label: 'none', seed: 0, test: 0.9, wall: 6, epochs: [{ val: 0.5, wall: 2 }, { val: 0.7, wall: 2 }, { val: 0.9, wall: 2 }] });
  assert.deepEqual(validationSeries(r.metrics), epochSeries(r.metrics));
  assert.equal(accuracyWithin(validationSeries(r.metrics), 250, 'gradientSamples'), 0.7);
  assert.equal(timeToTarget(validationSeries(r.metrics), 0.7), 4);
});

test('the validation curves and accuracy against gradient samples draw the --eval-every points too', () => {
  const runs = [
    fakeRun({ id: 1, label: 'none', seed: 0, test: 0.9, wall: 8, epochs: [{ val: 0.5, wall: 4, points: [{ val: 0.35, samples: 50, wall: 1.5 }] }, { val: 0.9, wall: 4 }] }),
    fakeRun({ id: 2, label: 'none', seed: 1, test: 0.9, wall: 8, epochs: [{ val: 0.4, wall: 4, points: [{ val: 0.25, samples: 50, wall: 2.5 }] }, { val: 0.8, wall: 4 }] }),
  ];
  const charts = curveCharts(buildTables(runs).datasets);
  const values = (name: string) => (charts.find((c) => c.name === name)!.spec as unknown as { data: { values: { split: string; metric: string; epoch: number; samples: number; wall: number; value: number }[] } }).data.values;
  const acc = values('accuracy-vs-samples-cifar10').map((v) => [v.samples, v.wall, Math.round(v.value * 1000) / 1000]);
  assert.deepEqual(acc, [[50, 2, 0.3], [100, 4, 0.45], [200, 8, 0.85]]);
  const byEpoch = values('curves-epoch-cifar10').filter((v) => v.metric === 'accuracy');
  assert.deepEqual(byEpoch.filter((v) => v.split === 'val').map((v) => v.epoch), [0.5, 1, 2]);
  assert.deepEqual(byEpoch.filter((v) => v.split === 'train').map((v) => v.epoch), [1, 2], 'train points stay per epoch');
});

test('random at equal gradient samples: a method whose keep ratio differs (infobatch) still meets its control, at the smaller mean of gradient samples', () => {
  // infobatch trains 80 per epoch (cumulative 80, 160, 240), random at another ratio 50 (50, 100, 150): the budget is 150.
  const ib = (seed: number, vals: number[]) => fakeRun({ id: 10 + seed, label: 'infobatch', seed, ratio: 0.3, test: 0.6, wall: 3, epochs: vals.map((val) => ({ val, wall: 1, trained: 80 })) });
  const rnd = (seed: number, vals: number[]) => fakeRun({ id: 20 + seed, label: 'random', seed, ratio: 0.5, test: 0.5, wall: 3, epochs: vals.map((val) => ({ val, wall: 1, trained: 50 })) });
  const rows = buildTables([ib(0, [0.4, 0.7, 0.8]), ib(1, [0.5, 0.6, 0.9]), rnd(0, [0.3, 0.45, 0.5]), rnd(1, [0.2, 0.35, 0.55])]).datasets[0]!.rows;
  const row = rows.find((r) => r.label === 'infobatch')!;
  assert.equal(row.vsRandom, null, 'no random at the same filter ratio');
  const c = row.vsRandomAtSamples!;
  assert.equal(c.against, 'random');
  assert.equal(c.gradientSamples, 150);
  assert.equal(c.pairs, 2);
  // Within 150: infobatch's first epoch only (0.4, 0.5); random's best of three (0.5, 0.55): differences −0.1, −0.05.
  assert.ok(Math.abs(c.valAccuracy.mean - -0.075) < 1e-12, `mean ${c.valAccuracy.mean}`);
  assert.match(formatSummaryTable([ib(0, [0.4, 0.7, 0.8]), rnd(0, [0.3, 0.45, 0.5])]), /-10\.0 ± n\/a @ 150/);
});

test('the reference model\'s accuracy appears beside jest and rho-loss, flagged weak when its 95% CI reaches chance', () => {
  const withRef = (id: number, label: string, seed: number, acc: number) => {
    const r = fakeRun({ id, label, seed, ratio: 0.5, test: 0.5, wall: 2 });
    return { ...r, config: { ...r.config, extra: { reference_test_accuracy: acc, classes: ['a', 'b', 'c'] } } };
  };
  // Weak: 34% and 36% (mean 35, half-width 12.706·0.01414/√2 = 12.7 points) reach chance 33.3%; strong: 80% and 82%.
  const rows = buildTables([withRef(1, 'jest', 0, 0.34), withRef(2, 'jest', 1, 0.36), withRef(3, 'rho-loss', 0, 0.8), withRef(4, 'rho-loss', 1, 0.82), fakeRun({ id: 5, label: 'random', seed: 0, ratio: 0.5, test: 0.5, wall: 2 })]).datasets[0]!.rows;
  const row = (l: string) => rows.find((r) => r.label === l)!;
  assert.ok(Math.abs(row('jest').reference!.accuracy.mean - 0.35) < 1e-12);
  assert.equal(row('jest').reference!.weak, true);
  assert.equal(row('rho-loss').reference!.weak, false);
  assert.equal(row('random').reference, null);
  const text = formatSummaryTable(rows.flatMap((r) => r.runs));
  assert.match(text, /35\.0 ± 12\.7 \(weak: chance 33\.3\)/);
  assert.match(text, /81\.0 ± 12\.7(?! \(weak)/);
});
