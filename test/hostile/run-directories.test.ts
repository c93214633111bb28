/**
 * Hostile input against run directories and training: no silent overwrite, no two trainers in
 * one folder, no leftovers of killed writes, a file named as --out, a diverging run, and an
 * experiment's dataset label as its identity. Each case checks the exit code and the message.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli, type CliRun } from '../cli-run.js';
import { writeCifarBinary } from '../data/fixtures.js';
import { RUN_FILES, RunDir } from '../../src/train/index.js';

let dir = '';
let data = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'saln-hostile-rundir-'));
  data = join(dir, 'c10');
  writeCifarBinary(data, 12); // 60 train, 12 test images of 32 px
  process.env.SALN_CACHE = join(dir, 'cache');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const train = (args: string[]): Promise<CliRun> => runCli(['train', '--dataset', 'cifar10', '--data-dir', data, '--model', 'tiny-cnn', '--batch-size', '8', '--lr', '0.05', '--epochs', '1', '--no-progress', ...args]);

test('--out holding a finished run is refused (exit 2) and left as it was; --overwrite replaces it', async () => {
  const out = join(dir, 'finished');
  assert.equal((await train(['--seed', '1', '--out', out])).code, 0);
  const before = readFileSync(join(out, RUN_FILES.summary), 'utf8');
  const again = await train(['--seed', '2', '--out', out]);
  assert.equal(again.code, 2, again.err);
  assert.match(again.err, /--out: .*finished already holds a run \(config\.json\); resume it, overwrite it, or choose another folder/);
  assert.equal(readFileSync(join(out, RUN_FILES.summary), 'utf8'), before, 'the finished run is untouched');
  const over = await train(['--seed', '2', '--out', out, '--overwrite']);
  assert.equal(over.code, 0, over.err);
  assert.match(over.err, /overwriting the run that was there/);
  assert.equal(RunDir.open(out).config().seed, 2);
});

test('--out naming a file exits 2', async () => {
  const f = join(dir, 'a-file');
  writeFileSync(f, 'not a folder');
  const r = await train(['--out', f]);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /--out: .*a-file is a file, not a run directory/);
});

test('a run directory locked by a live process is refused; a stale lock is taken over; killed writes are cleaned up', async () => {
  const out = join(dir, 'locked');
  mkdirSync(out);
  // A live process on this host (a sleeping child) holds the lock.
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    writeFileSync(join(out, RUN_FILES.lock), JSON.stringify({ pid: child.pid, host: hostname(), started: 'now' }));
    const r = await train(['--out', out]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(`is being trained by process ${child.pid} on `));
    assert.ok(!existsSync(join(out, RUN_FILES.config)), 'nothing written');
  } finally {
    child.kill('SIGKILL');
  }
  await new Promise((res) => child.once('exit', res));
  // Its process is gone: the lock is stale. A killed atomic write left a temporary file.
  writeFileSync(join(out, `${RUN_FILES.metrics}.tmp-99999`), 'half a file');
  const r = await train(['--out', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /removed 1 temporary file\(s\) a killed write left behind \(metrics\.jsonl\.tmp-99999\)/);
  assert.ok(!existsSync(join(out, RUN_FILES.lock)), 'the lock is released at the end');
  assert.ok(!existsSync(join(out, `${RUN_FILES.metrics}.tmp-99999`)));
});

test('a loss that goes non-finite stops the run at once: exit 1, epoch and step named, stopped_by recorded', async () => {
  const out = join(dir, 'diverged');
  const r = await train(['--lr', '1e30', '--epochs', '3', '--out', out]);
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /the training loss became NaN or infinite at epoch 1, step \d+; the run stopped there .*try --lr 1e\+29/);
  const s = RunDir.open(out).summary()!;
  assert.equal(s.stopped_by, 'non-finite loss');
  assert.equal(s.diverged_at!.epoch, 1);
  assert.equal(s.epochs_done, 1, 'no epoch after the one that diverged');
  assert.ok(s.counts.optimizer_steps <= 8, 'stopped at the step, not at the end of the epoch');
});

test('--threads has a maximum and names it', async () => {
  const r = await train(['--threads', '100000', '--out', join(dir, 'threads')]);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /--threads <n>' argument '100000' is invalid\. Expected an integer between 1 and \d+/);
});

test('two experiment datasets with the same loader and different labels stay apart in the registry', async () => {
  const cfg = join(dir, 'two-labels.yaml');
  writeFileSync(cfg, [
    'name: two-labels', `out: ${join(dir, 'exp')}`,
    'datasets:', `  - { label: c10-full, dataset: cifar10, dataDir: ${data} }`, `  - { label: c10-tiny, dataset: cifar10, dataDir: ${data}, limitTrain: 20 }`,
    'model: tiny-cnn', 'train: { epochs: 1, batchSize: 8, lr: 0.05 }', 'methods: [none]', '',
  ].join('\n'));
  const reg = join(dir, 'registry.sqlite');
  const r = await runCli(['experiment', cfg, '--registry', reg, '--no-report', '--no-progress']);
  assert.equal(r.code, 0, r.err);
  const ls = await runCli(['runs', 'ls', '--registry', reg, '--json']);
  const rows = JSON.parse(ls.out) as { dataset: string }[];
  assert.deepEqual(rows.map((x) => x.dataset).sort(), ['c10-full', 'c10-tiny']);
});

test('saln on a feature model that is not here: fetched on first use; offline, exit 2 with the command to run', async () => {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
  const closedPort = (srv.address() as { port: number }).port;
  await new Promise((res) => srv.close(res));
  const prev = process.env.SALN_NPM_REGISTRY;
  process.env.SALN_NPM_REGISTRY = `http://127.0.0.1:${closedPort}`;
  try {
    const cache = join(dir, 'empty-cache');
    const r = await train(['--method', 'saln', '--filter-ratio', '0.5', '--feature-model', 'resnet50-keras', '--cache-dir', cache, '--out', join(dir, 'offline')]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /resnet50-keras is not in the cache .* could not be downloaded: .*ECONNREFUSED.*saln models pull resnet50-keras --cache-dir /);
  } finally {
    if (prev === undefined) delete process.env.SALN_NPM_REGISTRY;
    else process.env.SALN_NPM_REGISTRY = prev;
  }
});
