/** `saln experiment CONFIG` end to end on a tiny grid: runs, registry, report; then `saln report --experiment`. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../cli-run.js';
import { Registry } from '../../src/experiments/registry.js';
import { writeCifarBinary } from '../data/fixtures.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'saln-experiment-cli-'));
  writeCifarBinary(join(dir, 'c10'), 12);
  process.env.SALN_CACHE = join(dir, 'cache');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const run = runCli;

test('saln experiment: runs the grid into the registry, prints the table and ends with the report path', async () => {
  const cfg = join(dir, 'grid.yaml');
  writeFileSync(cfg, `name: cli-grid
out: out
datasets: [{ dataset: cifar10, dataDir: c10 }]
model: tiny-cnn
seeds: [0, 1]
train: { epochs: 2, batchSize: 8, lr: 0.05, filterRatio: 0.5 }
methods: [none, random, { method: saln, featureSource: pixels }]
report: { title: tiny grid }
`);
  const registry = join(dir, 'registry.sqlite');
  const dry = await run(['experiment', cfg, '--registry', registry, '--dry-run']);
  assert.equal(dry.code, 0, dry.err);
  assert.equal(dry.out.trim().split('\n').length, 8);
  assert.match(dry.out, /new +cifar10 +saln +seed 1/);
  assert.match(dry.out, /^6 runs: 0 done, 0 interrupted, 6 new, 0 waiting\ntime left: not known yet/m);

  const r = await run(['experiment', cfg, '--registry', registry, '--no-progress']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  const last = lines[lines.length - 1]!;
  assert.match(last, /^report: .*out\/report\/index\.html$/);
  assert.ok(existsSync(last.slice('report: '.length)));
  for (const m of ['none', 'random', 'saln']) assert.match(r.out, new RegExp(`\\b${m}\\b`));

  const reg = Registry.open(registry);
  try {
    const runs = reg.list({ experiment: 'cli-grid' });
    assert.equal(runs.length, 6);
    assert.ok(runs.every((x) => x.status === 'complete' && x.metrics.length === 2));
    assert.deepEqual([...new Set(runs.map((x) => x.label))].sort(), ['none', 'random', 'saln']);
  } finally {
    reg.close();
  }

  const dryDone = await run(['experiment', cfg, '--registry', registry, '--dry-run']);
  assert.match(dryDone.out, /\n6 runs: 6 done, 0 interrupted, 0 new, 0 waiting\n$/);

  // Again: everything is done; the report is rebuilt from the registry by name too.
  const again = await run(['experiment', cfg, '--registry', registry, '--no-progress', '--no-report']);
  assert.equal(again.code, 0, again.err);
  assert.match(again.err, /6 runs \(6 done, 0 to run\)/);
  const rep = await run(['report', '--experiment', 'cli-grid', '--registry', registry, '--out', join(dir, 'rep')]);
  assert.equal(rep.code, 0, rep.err);
  assert.ok(existsSync(join(dir, 'rep', 'index.html')));
  // --results: the headline is that file's numbers (here one edited so that they differ from the runs').
  const results = JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8')) as { entries: { label: string; test_accuracy: { mean: number; ci95: number } }[] };
  results.entries.find((e) => e.label === 'none')!.test_accuracy = { mean: 12.34, ci95: 5.67 };
  writeFileSync(join(dir, 'edited.json'), JSON.stringify(results));
  const fromFile = await run(['report', '--experiment', 'cli-grid', '--registry', registry, '--results', join(dir, 'edited.json'), '--out', join(dir, 'rep-results')]);
  assert.equal(fromFile.code, 0, fromFile.err);
  const page = readFileSync(join(dir, 'rep-results', 'index.html'), 'utf8');
  assert.match(page, /<tr data-label="none"><th scope="row">none<\/th><td>epochs<\/td><td>[^<]*<\/td><td>12\.34 ± 5\.67<\/td>/);
  assert.match(page, /edited\.json's numbers \(protocol cli-grid, 6 of 6 runs\)/);
  assert.doesNotMatch(readFileSync(join(dir, 'rep', 'index.html'), 'utf8'), /12\.34 ± 5\.67/);
  writeFileSync(join(dir, 'not-results.json'), '{"protocol": "x"}');
  const badResults = await run(['report', '--experiment', 'cli-grid', '--registry', registry, '--results', join(dir, 'not-results.json'), '--out', join(dir, 'rep-bad')]);
  assert.equal(badResults.code, 2);
  assert.match(badResults.err, /not-results\.json/);
  const bad = await run(['report', '--experiment', 'nope', '--registry', registry, '--out', join(dir, 'rep2')]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /no runs of experiment "nope"; experiments: cli-grid/);
  const both = await run(['report', join(dir, 'out'), '--experiment', 'cli-grid', '--out', join(dir, 'rep3')]);
  assert.equal(both.code, 2);
  assert.match(both.err, /exactly one of them/);
});

test('saln experiment: a bad config exits 2 naming the field', async () => {
  const cfg = join(dir, 'bad.yaml');
  writeFileSync(cfg, 'name: bad\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmethods: [none, { method: random, filterRatio: 2 }]\n');
  const r = await run(['experiment', cfg, '--registry', join(dir, 'r2.sqlite')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /methods\[1\] \(random\), seed 0: filterRatio: must be in \[0, 1\)/);
});
