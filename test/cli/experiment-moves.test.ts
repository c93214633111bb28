/**
 * A grid that moves between machines: `saln experiment --archive DIR` keeps finished runs'
 * records and restores them on a machine without the run directories, and `--lost-runs FILE`
 * carries runs whose directories are gone, through a results file written while they existed.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../cli-run.js';
import type { ResultEntry, ResultsFile } from '../../src/reports/results.js';
import { writeCifarBinary } from '../data/fixtures.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'saln-experiment-moves-'));
  writeCifarBinary(join(dir, 'c10'), 12);
  process.env.SALN_CACHE = join(dir, 'cache');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const config = (name: string, out: string, seeds: number[]): string => {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\nout: ${out}\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmodel: tiny-cnn\nseeds: [${seeds.join(', ')}]\n`
    + 'train: { epochs: 2, batchSize: 8, lr: 0.05, filterRatio: 0.5 }\n'
    + 'methods:\n  - none\n  - random\n  - { method: random, label: random-wall, wallBudgetOf: none, epochs: 40 }\n');
  return file;
};
const readJson = (p: string): ResultsFile => JSON.parse(readFileSync(p, 'utf8')) as ResultsFile;
const entry = (r: ResultsFile, label: string): ResultEntry => r.entries.find((e) => e.label === label)!;

test('--archive keeps each finished run\'s record (no weights) and restores it where the run directory is gone', async () => {
  const cfg = config('arch', 'arch-out', [0, 1]);
  const archive = join(dir, 'arch-records');
  const first = await runCli(['experiment', cfg, '--registry', join(dir, 'arch.sqlite'), '--no-progress', '--no-report', '--archive', archive, '--results', join(dir, 'arch-1.json')]);
  assert.equal(first.code, 0, first.err);
  const record = join(archive, 'cifar10', 'random', 'seed-1');
  assert.deepEqual(readdirSync(record).sort(), ['config.json', 'metrics.jsonl', 'summary.json']);
  assert.equal(readdirSync(join(archive, 'cifar10')).length, 3);

  // A new machine: the repository (archive) came along, the run directories did not.
  rmSync(join(dir, 'arch-out'), { recursive: true });
  const dry = await runCli(['experiment', cfg, '--dry-run', '--archive', archive]);
  assert.match(dry.out, /archive: 6 of the cells above have a record in .* and will be restored/);
  const again = await runCli(['experiment', cfg, '--registry', join(dir, 'arch2.sqlite'), '--results-only', '--archive', archive, '--results', join(dir, 'arch-2.json')]);
  assert.equal(again.code, 0, again.err);
  assert.match(again.err, /archive: 6 finished runs restored from/);
  assert.deepEqual(readJson(join(dir, 'arch-2.json')), readJson(join(dir, 'arch-1.json')), 'the same results from the restored records');
  const rerun = await runCli(['experiment', cfg, '--registry', join(dir, 'arch2.sqlite'), '--no-progress', '--no-report', '--archive', archive]);
  assert.equal(rerun.code, 0, rerun.err);
  assert.equal(rerun.err.match(/: done, skipped/g)?.length, 6, 'nothing trained again');
  assert.doesNotMatch(rerun.err, /training \.\.\./);

  // Never overwritten: a record that differs from its run is an error naming it.
  const summary = join(record, 'summary.json');
  writeFileSync(summary, readFileSync(summary, 'utf8').replace('"test_accuracy":', '"test_accuracy": 0.999, "was":'));
  const clash = await runCli(['experiment', cfg, '--registry', join(dir, 'arch2.sqlite'), '--results-only', '--archive', archive]);
  assert.equal(clash.code, 2);
  assert.match(clash.err, /seed-1 already holds another record than .*random\/seed-1's/);
});

test('--lost-runs: seeds trained on an earlier machine are skipped, give the wall budget, and merge into the results as if their runs were here', async () => {
  // Machine 1 trained seeds 0 and 1; only its results file survived.
  const early = await runCli(['experiment', config('lost-a', 'lost-a-out', [0, 1]), '--registry', join(dir, 'lost.sqlite'), '--no-progress', '--no-report', '--results', join(dir, 'lost.json')]);
  assert.equal(early.code, 0, early.err);
  // Machine 2 has the whole grid to do (seeds 0-2) and the lost runs' file.
  const cfg = config('lost-b', 'lost-b-out', [0, 1, 2]);
  const lost = join(dir, 'lost.json');
  const dry = await runCli(['experiment', cfg, '--dry-run', '--lost-runs', lost]);
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /lost +cifar10 +random +seed 1/);
  assert.match(dry.out, /9 runs: 6 done \(6 of them on an earlier machine: lost runs\), 0 interrupted, 2 new, 1 waiting/);
  const late = await runCli(['experiment', cfg, '--registry', join(dir, 'lost.sqlite'), '--no-progress', '--lost-runs', lost, '--results', join(dir, 'merged.json'), '--report-dir', join(dir, 'lost-report')]);
  assert.equal(late.code, 0, late.err);
  assert.equal(late.err.match(/done on an earlier machine \(a lost run\), skipped/g)?.length, 6);
  // The report's headline is the results file's: three seeds of none, though one run is at hand.
  const html = readFileSync(join(dir, 'lost-report', 'index.html'), 'utf8');
  const noneRow = /<tr data-label="none">.*?<\/tr>/.exec(html)?.[0] ?? '';
  assert.match(noneRow, /<td>3( \(\d contended\))?<\/td><\/tr>$/, noneRow); // contended: a busy machine, as when a grid runs beside the suite
  assert.match(html, /The headline counts 6 runs trained on an earlier machine whose run directories are gone/);
  assert.equal(readdirSync(join(dir, 'lost-b-out', 'runs', 'cifar10', 'none')).join(), 'seed-2', 'only seed 2 trained here');
  const lostNone = entry(readJson(lost), 'none').per_seed.map((r) => r.wall_seconds);
  const wall = JSON.parse(readFileSync(join(dir, 'lost-b-out', 'runs', 'cifar10', 'random-wall', 'seed-2', 'config.json'), 'utf8')) as { budget?: { seconds?: number } };
  const noneSeed2 = JSON.parse(readFileSync(join(dir, 'lost-b-out', 'runs', 'cifar10', 'none', 'seed-2', 'summary.json'), 'utf8')) as { wall_seconds: number };
  const median = [...lostNone, noneSeed2.wall_seconds].sort((a, b) => a - b)[1]!;
  assert.ok(Math.abs(wall.budget!.seconds! - median) < 1e-9, `budget ${wall.budget?.seconds} is the median of none's three runs (${median})`);

  // The truth: every run directory in one place, no lost runs.
  cpSync(join(dir, 'lost-b-out'), join(dir, 'all-out'), { recursive: true });
  for (const label of ['none', 'random', 'random-wall']) {
    for (const s of [0, 1]) cpSync(join(dir, 'lost-a-out', 'runs', 'cifar10', label, `seed-${s}`), join(dir, 'all-out', 'runs', 'cifar10', label, `seed-${s}`), { recursive: true });
  }
  const all = config('lost-c', 'all-out', [0, 1, 2]);
  const truth = await runCli(['experiment', all, '--registry', join(dir, 'truth.sqlite'), '--results-only', '--results', join(dir, 'truth.json')]);
  assert.equal(truth.code, 0, truth.err);
  const merged = readJson(join(dir, 'merged.json'));
  const full = readJson(join(dir, 'truth.json'));
  assert.deepEqual(merged.runs, { planned: 9, finished: 9 });
  assert.equal(merged.complete, true);
  // tol is in the files' own units (0.4 vs 0.3 is 0.1 apart): 1e-9 absorbs the float subtraction's error.
  const near = (a: number | null, b: number | null, tol: number, what: string): void => {
    assert.ok((a === null && b === null) || (a !== null && b !== null && Math.abs(a - b) <= tol + 1e-9), `${what}: ${a} vs ${b}`);
  };
  for (const t of full.entries) {
    const m = entry(merged, t.label);
    assert.deepEqual(m.seeds, t.seeds);
    assert.deepEqual(m.per_seed, t.per_seed, `${t.label}: every seed's values`);
    // Up to the files' rounding: per-seed accuracies to 0.01, seconds and cost shares to 0.1 (a 3-seed CI multiplies it by t = 4.3).
    const tolerance = { test_accuracy: [0.02, 0.05], val_accuracy: [0.02, 0.05], wall_seconds: [0.1, 0.3], gradient_samples: [1, 2], selection_cost_share: [0.1, 0.3] } as const;
    for (const [k, [mean, ci]] of Object.entries(tolerance) as [keyof typeof tolerance, readonly [number, number]][]) {
      near(m[k].mean, t[k].mean, mean, `${t.label} ${k} mean`);
      near(m[k].ci95, t[k].ci95, ci, `${t.label} ${k} ci95`);
    }
    for (const k of ['time_to_95pct', 'time_to_99pct'] as const) {
      assert.equal(m[k]?.reached, t[k]?.reached, `${t.label} ${k} reached`);
      assert.equal(m[k]?.of, t[k]?.of);
      near(m[k]?.mean ?? null, t[k]?.mean ?? null, 0.1, `${t.label} ${k}`);
      near(m[k]?.ci95 ?? null, t[k]?.ci95 ?? null, 0.3, `${t.label} ${k} ci95`);
    }
    for (const k of ['delta_vs_none', 'delta_vs_random'] as const) {
      assert.equal(m[k]?.pairs, t[k]?.pairs, `${t.label} ${k} pairs`);
      near(m[k]?.mean ?? null, t[k]?.mean ?? null, 0.02, `${t.label} ${k}`);
    }
  }

  // A seed both lost and at hand, and a lost entry the experiment only partly plans, are errors.
  const both = await runCli(['experiment', all, '--registry', join(dir, 'truth.sqlite'), '--results-only', '--lost-runs', lost, '--results', join(dir, 'x.json')]);
  assert.equal(both.code, 2);
  assert.match(both.err, /cifar10\/none seed 0 is both a lost run and a run at hand/);
  mkdirSync(join(dir, 'one-out'));
  const partly = await runCli(['experiment', config('lost-d', 'one-out', [0]), '--dry-run', '--lost-runs', lost]);
  assert.equal(partly.code, 2);
  assert.match(partly.err, /entry none's seeds 0, 1 are only partly cells of this experiment \(cifar10\/none\/seed-1 is not\)/);
  assert.ok(!existsSync(join(dir, 'x.json')));
});
