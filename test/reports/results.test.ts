/** Results as data: the protocol's table as JSON, from the report's rows, with its schema. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { verdictCells } from '../../src/reports/headline.js';
import { buildResults, pairEntries, resultsFileSchema, type ReadResultEntry } from '../../src/reports/results.js';
import { runCli } from '../cli-run.js';
import { writeCifarBinary } from '../data/fixtures.js';
import { fakeRun } from './fixtures.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'saln-results-'));
  writeCifarBinary(join(dir, 'c10'), 12);
  process.env.SALN_CACHE = join(dir, 'cache');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('entries: percent accuracies with their CI, deltas paired by seed, time to 95%/99% of standard training', () => {
  // none ends at 0.80 (both seeds); random reaches 0.76 (95% of 0.80) in its second epoch, never 0.792.
  const runs = [0, 1].flatMap((seed) => [
    fakeRun({ id: 1 + seed, label: 'none', seed, test: 0.8, wall: 10, epochs: [{ val: 0.7, wall: 5 }, { val: 0.8, wall: 5 }] }),
    fakeRun({ id: 3 + seed, label: 'random', seed, ratio: 0.8, test: 0.7 + 0.02 * seed, wall: 4, epochs: [{ val: 0.6, wall: 2 }, { val: 0.76, wall: 2 }] }),
  ]);
  const r = buildResults('tiny', runs, 4);
  assert.equal(r.complete, true);
  const none = r.entries.find((e) => e.label === 'none')!;
  const rnd = r.entries.find((e) => e.label === 'random')!;
  assert.deepEqual(none.test_accuracy, { mean: 80, ci95: 0 });
  assert.equal(rnd.test_accuracy.mean, 71);
  // The final epoch's validation accuracy (what tuning reads): 0.8 and 0.76 for both seeds.
  assert.deepEqual(none.val_accuracy, { mean: 80, ci95: 0 });
  assert.deepEqual(rnd.val_accuracy, { mean: 76, ci95: 0 });
  assert.equal(rnd.reference_accuracy, null, 'no reference: random has none');
  // Each seed's run, for pairing any two entries: wall seconds with every cost, gradient samples (2 epochs × 100).
  assert.deepEqual(rnd.per_seed, [
    { seed: 0, test_accuracy: 70, val_accuracy: 76, wall_seconds: 4, gradient_samples: 200 },
    { seed: 1, test_accuracy: 72, val_accuracy: 76, wall_seconds: 4, gradient_samples: 200 },
  ]);
  // Random against none, paired: the same −9 ± 12.71 as delta_vs_none; validation 76 − 80 on both seeds.
  const pair = pairEntries(rnd, none);
  assert.deepEqual([pair.a, pair.b, pair.seeds], ['random', 'none', [0, 1]]);
  assert.equal(pair.test_accuracy.mean, -9);
  assert.ok(Math.abs(pair.test_accuracy.ci95! - 12.71) < 0.01, String(pair.test_accuracy.ci95));
  assert.deepEqual(pair.val_accuracy, { mean: -4, ci95: 0 });
  assert.deepEqual(pair.wall_seconds, { a: 4, b: 10 });
  // Only common seeds pair: none's seed 1 alone leaves one pair.
  const one = pairEntries(rnd, { ...none, per_seed: none.per_seed.filter((r) => r.seed === 1) });
  assert.deepEqual([one.seeds, one.test_accuracy], [[1], { mean: -8, ci95: null }]);
  assert.equal(rnd.budget, 'epochs');
  assert.equal(rnd.precision, 'fp32', 'runs without precision fields computed in fp32');
  assert.equal(rnd.contended_runs, 0, 'runs without a load record count as not contended');
  const withLoad = (l: { start: number; end: number; cores: number; mean?: number; other_cpu?: number }) =>
    buildResults('tiny', runs.map((r) => (r.label === 'random' && r.seed === 1 ? { ...r, summary: { ...r.summary!, load_average: l } } : r)), 4).entries.find((e) => e.label === 'random')!.contended_runs;
  // Without a mean (older runs): start or end above 1.25× the cores; with it, the mean decides.
  assert.equal(withLoad({ start: 1.2, end: 3.5, cores: 2 }), 1);
  assert.equal(withLoad({ start: 1.2, end: 2.4, cores: 2 }), 0, 'a run alone on its cores keeps them busy: load ≈ cores');
  assert.equal(withLoad({ start: 1.2, end: 3.5, cores: 2, mean: 2.3 }), 0, 'a busy moment at the end of a quiet run');
  assert.equal(withLoad({ start: 2.1, end: 2.2, cores: 2, mean: 2.9 }), 1);
  // With other work's CPU recorded, it decides: a quarter of the cores.
  assert.equal(withLoad({ start: 2.1, end: 2.9, cores: 2, mean: 2.7, other_cpu: 0.1 }), 0, 'a busy load from the run\'s own disk waits');
  assert.equal(withLoad({ start: 1, end: 1, cores: 2, mean: 1, other_cpu: 0.6 }), 1);
  assert.deepEqual(rnd.seeds, [0, 1]);
  // Paired: (0.70 − 0.80, 0.72 − 0.80) → mean −9 points; t(0.975, 1) · std/√2 = 12.706 · 0.01414/1.414 · 100.
  assert.equal(rnd.delta_vs_none!.mean, -9);
  assert.equal(rnd.delta_vs_none!.pairs, 2);
  assert.ok(Math.abs(rnd.delta_vs_none!.ci95! - 12.71) < 0.01, String(rnd.delta_vs_none!.ci95));
  assert.deepEqual(rnd.time_to_95pct, { mean: 4, ci95: 0, reached: 2, of: 2 });
  assert.deepEqual(rnd.time_to_99pct, { mean: null, ci95: null, reached: 0, of: 2 });
  assert.deepEqual(none.time_to_99pct, { mean: 10, ci95: 0, reached: 2, of: 2 });
  assert.equal(none.delta_vs_none, null);
  // Work before a run's clock (a reference's training, a feature extraction) is part of its cost.
  const upfront = runs.map((r) => (r.label === 'random' ? { ...r, config: { ...r.config, extra: { reference_wall_seconds: 1, feature_extraction_seconds: 0.5 } } } : r));
  const withUpfront = buildResults('tiny', upfront, 4).entries.find((e) => e.label === 'random')!;
  assert.equal(withUpfront.wall_seconds.mean, 5.5);
  assert.deepEqual(withUpfront.time_to_95pct, { mean: 5.5, ci95: 0, reached: 2, of: 2 });
  // A reference's own accuracy (jest, rho-loss) comes with chance and the weak flag: 0.35 and 0.36 over 3 classes reach chance.
  const refs = runs.map((r) => (r.label === 'random' ? { ...r, config: { ...r.config, extra: { reference_test_accuracy: 0.35 + 0.01 * r.seed, classes: ['a', 'b', 'c'] } } } : r));
  const ref = buildResults('tiny', refs, 4).entries.find((e) => e.label === 'random')!.reference_accuracy!;
  assert.equal(ref.mean, 35.5);
  assert.ok(Math.abs(ref.ci95! - 6.35) < 0.01, String(ref.ci95));
  assert.deepEqual([ref.chance, ref.weak], [33.33, true]);
  // The cost share: choosing samples (scoring, selection, up-front work) over the whole cost.
  assert.deepEqual(rnd.selection_cost_share, { mean: 0, ci95: 0 });
  const scored = upfront.map((r) => (r.label === 'random' ? { ...r, summary: { ...r.summary!, phases: { ...r.summary!.phases, scoring: 0.8, selection: 0.2 } } } : r));
  // (0.8 + 0.2 + 1.5) / (4 + 1.5) = 45.45%.
  assert.deepEqual(buildResults('tiny', scored, 4).entries.find((e) => e.label === 'random')!.selection_cost_share, { mean: 45.5, ci95: 0 });
  // Fewer finished runs than planned: partial.
  assert.equal(buildResults('tiny', runs, 6).complete, false);
  assert.deepEqual(buildResults('tiny', runs, 6).runs, { planned: 6, finished: 4 });
});

test('a tiny experiment writes results.json that the schema accepts', async () => {
  const cfg = join(dir, 'grid.yaml');
  writeFileSync(cfg, 'name: tiny-results\nout: out\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmodel: tiny-cnn\nseeds: [0]\ntrain: { epochs: 1, batchSize: 8, lr: 0.05, filterRatio: 0.5, precision: bf16, memoryFormat: channels-last }\nmethods: [none, random]\n');
  const results = join(dir, 'results', 'tiny.json');
  const r = await runCli(['experiment', cfg, '--registry', join(dir, 'reg.sqlite'), '--no-progress', '--no-report', '--results', results]);
  assert.equal(r.code, 0, r.err);
  const file = resultsFileSchema.parse(JSON.parse(readFileSync(results, 'utf8')));
  assert.equal(file.protocol, 'tiny-results');
  assert.equal(file.complete, true);
  assert.deepEqual(file.entries.map((e) => [e.label, e.method, e.filter_ratio]), [['none', 'none', 0], ['random', 'random', 0.5]]);
  assert.ok(file.entries[1]!.delta_vs_none !== null && file.entries[1]!.delta_vs_none.pairs === 1);
  // The experiment set the precision for every run; the results record it.
  assert.deepEqual(file.entries.map((e) => e.precision), ['bf16+channels-last', 'bf16+channels-last']);
});

test('saln results prints a results file as the headline table (terminal or Markdown); a bad file or --label is exit 2', async () => {
  const cfg = join(dir, 'grid2.yaml');
  writeFileSync(cfg, 'name: tiny-table\nout: out2\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmodel: tiny-cnn\nseeds: [0]\ntrain: { epochs: 1, batchSize: 8, lr: 0.05, filterRatio: 0.5 }\nmethods: [none, random, infobatch]\n');
  const path = join(dir, 'results', 'tiny-table.json');
  assert.equal((await runCli(['experiment', cfg, '--registry', join(dir, 'reg2.sqlite'), '--no-progress', '--no-report', '--results', path])).code, 0);
  const file = resultsFileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  const info = file.entries.find((e) => e.label === 'infobatch')!;
  // InfoBatch meets random at equal gradient samples too (the smaller of the two entries' means).
  assert.equal(info.delta_vs_random_equal_samples!.against, 'random');
  assert.equal(info.delta_vs_random_equal_samples!.gradient_samples, Math.round(Math.min(info.gradient_samples.mean!, file.entries.find((e) => e.label === 'random')!.gradient_samples.mean!)));
  assert.equal(file.entries.find((e) => e.label === 'none')!.delta_vs_random_equal_samples, null, 'standard training is the reference, not a method');
  // --results-only rewrites the file from the finished runs, training nothing.
  const again = join(dir, 'results', 'again.json');
  assert.equal((await runCli(['experiment', cfg, '--registry', join(dir, 'reg2.sqlite'), '--results-only', '--results', again])).code, 0);
  assert.deepEqual(JSON.parse(readFileSync(again, 'utf8')), JSON.parse(readFileSync(path, 'utf8')));
  writeFileSync(join(dir, 'fresh.yaml'), readFileSync(cfg, 'utf8').replace('out: out2', 'out: out3'));
  assert.equal((await runCli(['experiment', join(dir, 'fresh.yaml'), '--registry', join(dir, 'reg2.sqlite'), '--results-only', '--results', again])).code, 0);
  assert.deepEqual(resultsFileSchema.parse(JSON.parse(readFileSync(again, 'utf8'))).runs, { planned: 3, finished: 0 });
  assert.ok(!existsSync(join(dir, 'out3', 'runs')), 'nothing trained');
  const md = await runCli(['results', path, '--markdown']);
  assert.equal(md.code, 0, md.err);
  const lines = md.out.split('\n');
  assert.equal(lines[0], `### tiny-table (complete; ${path})`);
  const header = lines.find((l) => l.startsWith('| entry |'))!;
  const randomRow = lines.find((l) => l.startsWith('| random |'))!.split(' | ');
  const col = (name: string): number => header.split(' | ').indexOf(name);
  const rnd = file.entries.find((e) => e.label === 'random')!;
  assert.equal(randomRow[col('test acc %')], `${rnd.test_accuracy.mean!.toFixed(2)} ± n/a`);
  assert.equal(randomRow[col('val acc %')], `${rnd.val_accuracy.mean!.toFixed(2)} ± n/a`);
  assert.equal(randomRow[col('Δ vs none, pp')], `${rnd.delta_vs_none!.mean!.toFixed(2)} ± n/a`);
  // --pair: any two entries of the file, paired by seed, instead of the headline.
  const paired = await runCli(['results', path, '--pair', 'infobatch,random', '--markdown']);
  assert.equal(paired.code, 0, paired.err);
  const pairRow = paired.out.split('\n').find((l) => l.startsWith('| infobatch | random |'))!.split(' | ');
  const info0 = file.entries.find((e) => e.label === 'infobatch')!.per_seed[0]!;
  assert.equal(pairRow[3], `${(info0.test_accuracy - rnd.per_seed[0]!.test_accuracy).toFixed(2)} ± n/a`);
  assert.doesNotMatch(paired.out, /\| entry \|/, 'the pairs replace the headline');
  const missing = await runCli(['results', path, '--pair', 'infobatch,jest']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /--pair: .*tiny-table\.json has no entry "jest"; its entries: none, random, infobatch/);
  assert.match((await runCli(['results', path, '--pair', 'infobatch'])).err, /expected two entry labels separated by a comma/);
  assert.match((await runCli(['results', path, '--pair', 'infobatch,random', '--label', 'info'])).err, /--label and --pair do not mix/);
  // --verdict: each entry with a random control against it; none and random have none.
  const verdict = await runCli(['results', path, '--verdict']);
  assert.equal(verdict.code, 0, verdict.err);
  assert.match(verdict.out, /^infobatch\s+random\s+1\s.*not yet: 1 seed paired$/m);
  assert.doesNotMatch(verdict.out, /^(none|random)\s/m);
  assert.match(verdict.out, /beats random by > 1 pp\?/);
  assert.match((await runCli(['results', path, '--verdict', '0.5'])).out, /beats random by > 0\.5 pp\?/);
  const badMargin = await runCli(['results', path, '--verdict', '-1']);
  assert.equal(badMargin.code, 2);
  assert.match(badMargin.err, /--verdict "-1": expected a margin in percentage points, a number >= 0/);
  assert.match((await runCli(['results', path, '--verdict', '--pair', 'infobatch,random'])).err, /--pair and --verdict do not mix/);
  const plain = await runCli(['results', path, '--label', '^info']);
  assert.equal(plain.code, 0, plain.err);
  assert.match(plain.out, /^infobatch\s+epochs\s/m);
  assert.doesNotMatch(plain.out, /^random\s/m);
  // A file from before a field existed still reads (the field shows as "—").
  const older = { ...file, entries: file.entries.map(({ contended_runs: _c, delta_vs_random_equal_samples: _d, val_accuracy: _v, reference_accuracy: _r, per_seed: _p, ...e }) => e) };
  writeFileSync(join(dir, 'older.json'), JSON.stringify(older));
  assert.equal((await runCli(['results', join(dir, 'older.json')])).code, 0);
  const olderPair = await runCli(['results', join(dir, 'older.json'), '--pair', 'random,none']);
  assert.equal(olderPair.code, 2);
  assert.match(olderPair.err, /older\.json has no per-seed results .*--results-only/);
  // A field of the wrong type: exit 2, naming the file and the field.
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...file, entries: [{ ...file.entries[0], seeds: 'zero' }] }));
  const bad = await runCli(['results', join(dir, 'bad.json')]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /bad\.json: not a saln results file \(entries\[0\]\.seeds: /);
  const notJson = join(dir, 'not.json');
  writeFileSync(notJson, '{"protocol": ');
  assert.match((await runCli(['results', notJson])).err, /cannot read .*not\.json as JSON/);
  const re = await runCli(['results', path, '--label', '(']);
  assert.equal(re.code, 2);
  assert.match(re.err, /--label "\(" is not a regular expression/);
});

test('the verdict against random: a win only when the whole 95% CI of the paired Δ lies above the margin', () => {
  const entry = (mean: number | null, ci95: number | null, pairs = 5): ReadResultEntry => ({
    label: 'craig-0.8-wall', delta_vs_random: mean === null ? null : { mean, ci95, pairs, against: 'random-0.8-wall' },
    delta_vs_none: { mean: -2, ci95: 0.5, pairs, against: 'none' }, selection_cost_share: { mean: 22.84, ci95: 0.3 },
  }) as ReadResultEntry;
  const cells = (mean: number | null, ci95: number | null, pairs?: number): string[] | null => verdictCells(entry(mean, ci95, pairs), 1);
  assert.deepEqual(cells(2.5, 1.2), ['craig-0.8-wall', 'random-0.8-wall', '5', '2.50 ± 1.20', '[1.30, 3.70]', '-2.00 ± 0.50', '22.8 ± 0.3', 'yes']);
  assert.equal(cells(1.5, 1.2)![7], 'no: above random, not by 1 pp', 'CI [0.3, 2.7]: above 0, not all above 1');
  assert.equal(cells(0.2, 1.0)![7], 'no: not distinguishable from random');
  assert.equal(cells(-2, 1.0)![7], 'no: below random');
  assert.equal(cells(1, 0)![7], 'no: above random, not by 1 pp', 'exactly at the margin is not above it');
  assert.equal(cells(3, null, 1)![7], 'not yet: 1 seed paired');
  assert.equal(cells(null, null), null, 'no random control: no row');
  assert.equal(verdictCells(entry(2.5, 1.2), 0)![7], 'yes');
});
