/** `saln runs`: add, ls, show, compare, rm on real run directories, and bad input (exit 2 naming it). */
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli, type CliRun } from '../cli-run.js';
import { formatTable } from '../../src/cli/table.js';
import type { Summary } from '../../src/train/index.js';
import { tinyConfig, trainRun } from '../experiments/fixtures.js';

let dir = '';
let reg = '';
const runs: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'registry-cli-'));
  reg = join(dir, 'reg.sqlite');
  for (const k of ['a', 'b', 'c'] as const) runs[k] = join(dir, 'runs', k);
  await trainRun(runs.a, tinyConfig({ dataset: 'synth', seed: 1 }));
  await trainRun(runs.b, tinyConfig({ dataset: 'synth', seed: 2, method: 'random', filterRatio: 0.5 }));
  await trainRun(runs.c, tinyConfig({ dataset: 'synth', seed: 3 }), { stopAfterEpochs: 1 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const saln = (...args: string[]): Promise<CliRun> => runCli(args);
const runsCmd = (...args: string[]): ReturnType<typeof saln> => saln('runs', '--registry', reg, ...args);
const summaryOf = (k: 'a' | 'b' | 'c'): Summary => JSON.parse(readFileSync(join(runs[k], 'summary.json'), 'utf8')) as Summary;
/** The cells of the table line that starts with `first` (after trimming). */
const rowOf = (out: string, first: string): string[] => {
  const line = out.split('\n').find((l) => l.trim().split(/\s{2,}/)[0] === first);
  assert.ok(line !== undefined, `no line starting with ${JSON.stringify(first)} in\n${out}`);
  return line.trim().split(/\s{2,}/);
};

test('formatTable pads columns, right-aligns numbers and refuses ragged rows', () => {
  assert.equal(formatTable(['name', { header: 'n', align: 'right' }], [['a', '1'], ['long', '100']]), 'name    n\n----  ---\na       1\nlong  100\n');
  assert.equal(formatTable(['k', 'v'], [['x', 'y']], { header: false, indent: '  ' }), '  x  y\n');
  assert.throws(() => formatTable(['a', 'b'], [['1']]), /row 0 has 1 cells, expected 2/);
});

test('--help documents the subcommands, the registry and examples', async () => {
  const r = await saln('runs', '--help');
  assert.equal(r.code, 0);
  for (const s of ['ls', 'show', 'compare', 'add', 'rm', '--registry', 'SALN_REGISTRY', 'Examples:', 'saln runs compare 3 4']) assert.ok(r.out.includes(s), s);
  const ls = await saln('runs', 'ls', '--help');
  for (const s of ['--experiment', '--dataset', '--method', '--json', 'best validation accuracy']) assert.ok(ls.out.includes(s), s);
  assert.ok((await saln('--help')).out.includes('runs'));
});

test('add, ls, show, compare and rm', async () => {
  let r = await runsCmd('add', runs.a, runs.b, '--experiment', 'exp1');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^run 1: ${runs.a} \\(complete, 2/2 epochs, label none\\)$`, 'm'));
  assert.match(r.out, /^run 2: .*\/b \(complete, 2\/2 epochs, label random\)$/m);
  r = await runsCmd('add', runs.c, '--label', 'partial');
  assert.match(r.out, /^run 3: .*\/c \(incomplete, 1\/2 epochs, label partial\)$/m);

  r = await runsCmd('ls');
  assert.equal(r.code, 0, r.err);
  const header = rowOf(r.out, 'id');
  assert.deepEqual(header, ['id', 'experiment', 'dataset', 'label', 'seed', 'status', 'epochs', 'test acc', 'best val acc', 'wall s']);
  const a = summaryOf('a');
  assert.deepEqual(rowOf(r.out, '1'), ['1', 'exp1', 'synth', 'none', '1', 'complete', '2/2', a.test_accuracy.toFixed(4), a.best_val_accuracy!.toFixed(4), a.wall_seconds.toFixed(2)]);
  const c = rowOf(r.out, '3');
  assert.deepEqual(c.slice(0, 8), ['3', '-', 'synth', 'partial', '3', 'incomplete', '1/2', '-']);

  r = await runsCmd('ls', '--experiment', 'exp1', '--method', 'random');
  assert.deepEqual(r.out.split('\n').slice(2).filter((l) => l).map((l) => l.trim().split(/\s+/)[0]), ['2']);
  r = await runsCmd('ls', '--dataset', 'synth', '--json');
  const listed = JSON.parse(r.out) as { id: number; testAcc: number | null; runDir: string }[];
  assert.deepEqual(listed.map((x) => x.id), [1, 2, 3]);
  assert.equal(listed[1]!.testAcc, summaryOf('b').test_accuracy);
  assert.equal(listed[2]!.testAcc, null);
  r = await runsCmd('ls', '--dataset', 'cifar10');
  assert.match(r.out, /no runs registered/);

  r = await runsCmd('show', '2');
  assert.equal(r.code, 0, r.err);
  const b = summaryOf('b');
  assert.ok(r.out.startsWith(`run 2  ${runs.b}\n`));
  assert.deepEqual(rowOf(r.out, 'method'), ['method', 'random']);
  assert.deepEqual(rowOf(r.out, 'filter ratio'), ['filter ratio', '0.5']);
  assert.deepEqual(rowOf(r.out, 'test accuracy'), ['test accuracy', b.test_accuracy.toFixed(4)]);
  assert.deepEqual(rowOf(r.out, 'gradient samples'), ['gradient samples', String(b.counts.gradient_samples)]);
  assert.deepEqual(rowOf(r.out, 'optimizer steps'), ['optimizer steps', String(b.counts.optimizer_steps)]);
  assert.deepEqual(rowOf(r.out, 'scored samples'), ['scored samples', '0']);
  assert.deepEqual(rowOf(r.out, 'data'), ['data', 'scoring', 'selection', 'train', 'eval', 'checkpoint']);
  assert.equal(rowOf(r.out, 'epoch').length, 9);
  const metrics = readFileSync(join(runs.b, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { train_loss: number; trained_samples: number });
  assert.deepEqual(rowOf(r.out, '2').slice(0, 3), ['2', '0.500', metrics[1]!.train_loss.toFixed(4)]);
  assert.equal(rowOf(r.out, '2')[6], String(metrics[1]!.trained_samples));
  r = await runsCmd('show', '3');
  assert.match(r.out, /none yet: 1 of 2 epochs done/);
  r = await runsCmd('show', '1', '--json');
  const rec = JSON.parse(r.out) as { id: number; summary: Summary; metrics: unknown[] };
  assert.equal(rec.id, 1);
  assert.deepEqual(rec.summary, a);
  assert.equal(rec.metrics.length, 2);

  r = await runsCmd('compare', '1', '2', '3');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(rowOf(r.out, 'label'), ['label', 'none', 'random', 'partial']);
  assert.deepEqual(rowOf(r.out, 'method'), ['method', 'none', 'random', 'none']);
  assert.deepEqual(rowOf(r.out, 'filterRatio'), ['filterRatio', '0', '0.5', '0']);
  assert.deepEqual(rowOf(r.out, 'seed'), ['seed', '1', '2', '3']);
  assert.ok(!/^\s*model\s/m.test(r.out), 'equal fields are not listed');
  assert.ok(!r.out.includes('extra.cli.out'));
  assert.deepEqual(rowOf(r.out, 'test accuracy'), ['test accuracy', a.test_accuracy.toFixed(4), b.test_accuracy.toFixed(4), '-']);
  assert.deepEqual(rowOf(r.out, 'optimizer steps'), ['optimizer steps', String(a.counts.optimizer_steps), String(b.counts.optimizer_steps), '-']);
  assert.deepEqual(rowOf(r.out, 'gradient samples'), ['gradient samples', String(a.counts.gradient_samples), String(b.counts.gradient_samples), '-']);
  assert.ok(Number(rowOf(r.out, 'gradient samples')[1]) > Number(rowOf(r.out, 'gradient samples')[2]), 'random at 0.5 trains fewer samples');
  assert.deepEqual(rowOf(r.out, 'train seconds'), ['train seconds', a.phases.train.toFixed(2), b.phases.train.toFixed(2), '-']);
  r = await runsCmd('compare', '1', '2', '--json');
  const cmp = JSON.parse(r.out) as { config: Record<string, unknown[]>; metrics: Record<string, unknown[]> };
  assert.deepEqual(cmp.config.method, ['none', 'random']);
  assert.deepEqual(cmp.metrics['wall seconds'], [a.wall_seconds, b.wall_seconds]);

  // Finishing the run and adding it again updates it in place.
  await trainRun(runs.c, tinyConfig({ dataset: 'synth', seed: 3 }), { resume: true });
  r = await runsCmd('add', runs.c);
  assert.match(r.out, /^run 3: .* \(complete, 2\/2 epochs, label partial\)$/m);

  r = await runsCmd('rm', '2');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /removed run 2/);
  r = await runsCmd('ls', '--json');
  assert.deepEqual((JSON.parse(r.out) as { id: number }[]).map((x) => x.id), [1, 3]);
});

test('errors: unknown ids, bad run directories and a non-SQLite registry exit 2 naming what is wrong', async () => {
  const path = join(dir, 'errors.sqlite');
  const cmd = (...args: string[]): ReturnType<typeof saln> => saln('runs', '--registry', path, ...args);
  assert.equal((await cmd('add', runs.a)).code, 0);
  for (const args of [['show', '42'], ['rm', '42'], ['compare', '1', '42']]) {
    const r = await cmd(...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, /no run with id 42 in the registry/);
  }
  let r = await cmd('show', 'abc');
  assert.equal(r.code, 2);
  assert.match(r.err, /Expected a run id/);
  r = await cmd('compare', '1');
  assert.equal(r.code, 2);
  assert.match(r.err, /at least two run ids/);

  r = await cmd('add', join(dir, 'nowhere'));
  assert.equal(r.code, 2);
  assert.ok(r.err.includes(`${join(dir, 'nowhere')} is not a run directory`), r.err);

  const bad = join(dir, 'runs', 'corrupt');
  cpSync(runs.a, bad, { recursive: true });
  appendFileSync(join(bad, 'metrics.jsonl'), 'not json\n');
  r = await cmd('add', runs.b, bad);
  assert.equal(r.code, 2);
  assert.ok(r.err.includes(`${join(bad, 'metrics.jsonl')}, line 3`), r.err);
  r = await cmd('ls', '--json');
  assert.equal((JSON.parse(r.out) as unknown[]).length, 1, 'a bad directory registers none of the others');

  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'not a database\n'.repeat(50));
  r = await saln('runs', '--registry', text, 'ls');
  assert.equal(r.code, 2);
  assert.ok(r.err.includes(`${text} is not a saln registry`), r.err);
});

test('the registry comes from $SALN_REGISTRY when --registry is not given', async () => {
  const saved = process.env.SALN_REGISTRY;
  process.env.SALN_REGISTRY = join(dir, 'env', 'reg.sqlite');
  try {
    assert.equal((await saln('runs', 'add', runs.a, '--experiment', 'env')).code, 0);
    const r = await saln('runs', 'ls', '--json');
    assert.deepEqual((JSON.parse(r.out) as { experiment: string }[]).map((x) => x.experiment), ['env']);
    // The group option also works after the subcommand.
    const r2 = await saln('runs', 'ls', '--registry', reg, '--json');
    assert.equal(r2.code, 0, r2.err);
    assert.deepEqual((JSON.parse(r2.out) as { id: number }[]).map((x) => x.id), [1, 3]);
  } finally {
    if (saved === undefined) delete process.env.SALN_REGISTRY;
    else process.env.SALN_REGISTRY = saved;
  }
});
