/** writeReport and `saln report` on real tiny training runs. */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli, type CliRun } from '../cli-run.js';
import { pngSize } from '../../src/reports/render.js';
import { writeReport } from '../../src/reports/report.js';
import { tensorSource, train, type TrainConfig } from '../../src/train/index.js';
import { randn } from '../../src/tensor/index.js';
import { recordsOf, tinyRuns, writeSelectionFixture } from './fixtures.js';

let dir = '';
let runs: string[] = [];
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'report-'));
  runs = await tinyRuns(join(dir, 'runs'), { seeds: [0] });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]): Promise<CliRun> => runCli(['report', ...args]);

test('writeReport: index.html with a figure and a PNG per chart; the PCA is omitted, with a note, without selection examples', async () => {
  const out = join(dir, 'r1');
  // As a run directory written before selection examples existed.
  const examples = join(runs[2]!, 'selection_examples.safetensors');
  assert.ok(existsSync(examples), 'the trainer records selection examples for saln');
  renameSync(examples, `${examples}.aside`);
  const res = await writeReport({ runs: recordsOf(runs), outDir: out, title: 'tiny <test>' });
  renameSync(`${examples}.aside`, examples);
  const names = res.charts.map((c) => c.name);
  assert.deepEqual(names, ['curves-epoch-synthetic', 'curves-time-synthetic', 'accuracy-vs-samples-synthetic', 'fc-weights-synthetic-none', 'fc-weights-synthetic-random', 'fc-weights-synthetic-saln']);
  const html = readFileSync(res.indexPath, 'utf8');
  for (const c of res.charts) {
    assert.ok(html.includes(`data-chart="${c.name}"`), c.name);
    assert.ok(html.includes(`href="${c.name}.png"`), `${c.name}: link to its PNG`);
    assert.ok(pngSize(readFileSync(c.png)).width > 0);
  }
  assert.match(html, /<title>tiny &lt;test&gt;<\/title>/);
  // The headline is results.json's entries: one row per method, standard training's with no delta to itself.
  assert.match(html, /<h3>Headline<\/h3>/);
  for (const label of ['none', 'random', 'saln']) assert.match(html, new RegExp(`<tr data-label="${label}"><th scope="row">${label}</th><td>epochs</td><td>fp32</td>`));
  assert.match(html, /<tr data-label="none">(<t[dh][^>]*>[^<]*<\/t[dh]>){9}<td>—<\/td>/, 'none has no delta vs itself');
  assert.match(html, /selection PCA chart is omitted/);
  assert.match(html, /How to read this/);
  assert.match(html, /saln<\/strong> − random at filter ratio 0\.5/);
  for (const r of runs) assert.ok(html.includes(r), `run list names ${r}`);
  // Self-contained: no scripts, stylesheets, images or frames from elsewhere.
  assert.doesNotMatch(html, /<script|<link|<img|<iframe|\bsrc=|@import/i);
  assert.equal((html.match(/<svg /g) ?? []).length, names.length);
});

test('writeReport: a saln run with selection_examples.safetensors gets its PCA chart; incomplete runs are listed, not averaged', async () => {
  writeSelectionFixture(runs[2]!);
  // An interrupted run: 1 of 2 epochs, no summary.json.
  const partial = join(dir, 'runs', 'none-partial');
  const x = randn([16, 3, 8, 8]);
  const src = tensorSource(x, Array.from({ length: 16 }, (_, i) => i % 3), Array.from({ length: 16 }, (_, i) => `p${i}`), { batchSize: 8 });
  const config: TrainConfig = { model: 'tiny-cnn', method: 'none', filterRatio: 0, epochs: 2, batchSize: 8, lr: 0.05, momentum: 0.9, weightDecay: 0, seed: 9, featureSource: 'pixels', solver: 'auto', saveSelections: false, extra: { cli: { dataset: 'synthetic' } } };
  const r = await train({ config, data: { train: src, val: src, test: src, numClasses: 3 }, runDir: partial, stopAfterEpochs: 1 });
  r.model.parameters().forEach((p) => p.dispose());
  x.dispose();
  const records = recordsOf([...runs, partial]);
  const res = await writeReport({ runs: records, outDir: join(dir, 'r2'), targetAccuracy: 0.5 });
  assert.ok(res.charts.some((c) => c.name === 'selection-pca-synthetic-saln'));
  assert.ok(!res.notes.some((n) => /selection PCA/.test(n)));
  assert.deepEqual(res.tables.incomplete.map((x) => x.runDir), [partial]);
  assert.equal(res.tables.datasets[0]!.rows.find((row) => row.label === 'none')!.n, 1);
  const html = readFileSync(res.indexPath, 'utf8');
  assert.match(html, /is incomplete \(no summary\.json\)/);
  // The file's epoch0.batch0 is the first batch of the first epoch, counted from 1 as in metrics.jsonl.
  assert.match(html, /epoch 1, batch 1 \(PC1/);
  assert.doesNotMatch(html, /epoch 0, batch/);
  assert.match(html, /time to 50\.0% val acc/);
  rmSync(join(runs[2]!, 'selection_examples.safetensors'));
});

test('writeReport refuses an empty run list', async () => {
  await assert.rejects(writeReport({ runs: [], outDir: join(dir, 'none') }), /no runs to report/);
});

test('saln report: prints the table and the index path; bad input exits 2 naming the path', async () => {
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  for (const s of ['--out', '--title', '--target-accuracy', 'Example', 'saln report runs/']) assert.ok(help.out.includes(s), s);

  const out = join(dir, 'r-cli');
  const r = await cli([...runs, '--out', out, '--target-accuracy', '0.4', '--title', 'CLI']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines[lines.length - 1], `report: ${join(out, 'index.html')}`);
  assert.match(r.out, /dataset synthetic \(time to target: 40\.0% val acc;/);
  assert.match(r.out, /^saln +0\.5 +1 /m);
  assert.ok(existsSync(join(out, 'curves-epoch-synthetic.png')));

  const notRun = await cli([join(dir, 'runs'), '--out', join(dir, 'r-bad')]);
  assert.equal(notRun.code, 2);
  assert.match(notRun.err, /runs is not a run directory \(no config\.json\)/);
  const none = await cli(['--out', join(dir, 'r-bad')]);
  assert.equal(none.code, 2);
  assert.match(none.err, /give run directories, --experiment NAME, or --runs IDS/);
  const badTarget = await cli([runs[0]!, '--out', join(dir, 'r-bad'), '--target-accuracy', '80']);
  assert.equal(badTarget.code, 2);
  assert.match(badTarget.err, /--target-accuracy.*fraction in \(0, 1\]/);
  assert.ok(!existsSync(join(dir, 'r-bad')), 'nothing written for bad input');
});

test('saln report on run directories: one method at two configurations gives two rows, never one of both', async () => {
  // A copy of the random run, as if trained at filter ratio 0.8 on a wall budget.
  const random = runs.find((r) => r.endsWith('random-s0'))!;
  const wall = join(dir, 'runs', 'random-0.8-wall-s0');
  cpSync(random, wall, { recursive: true });
  const cfgPath = join(wall, 'config.json');
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), filterRatio: 0.8, budget: { seconds: 60 } }));
  const out = join(dir, 'r-configs');
  const r = await cli([...runs, wall, '--out', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^random-0\.5 +0\.5 +1 /m);
  assert.match(r.out, /^random-0\.8-wall +0\.8 +1 /m);
  assert.doesNotMatch(r.out, /^random +/m, 'no row pools the two');
  // Methods with one configuration keep their plain name.
  assert.match(r.out, /^saln +0\.5 +1 /m);
  // The same runs registered by hand (label = method) and reported by id.
  const registry = join(dir, 'configs.sqlite');
  const add = await runCli(['runs', 'add', random, wall, '--registry', registry]);
  assert.equal(add.code, 0, add.err);
  const byId = await cli(['--runs', '1,2', '--registry', registry, '--out', join(dir, 'r-configs-ids')]);
  assert.equal(byId.code, 0, byId.err);
  assert.match(byId.out, /^random-0\.5 +0\.5 +1 /m);
  assert.match(byId.out, /^random-0\.8-wall +0\.8 +1 /m);
  rmSync(wall, { recursive: true });
});
