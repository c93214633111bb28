/** The run registry on real run directories: ingest/re-ingest, filters, get, remove, and bad input. */
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { defaultRegistryPath, Registry, SCHEMA_VERSION } from '../../src/experiments/registry.js';
import type { Summary } from '../../src/train/index.js';
import { tinyConfig, trainRun } from './fixtures.js';

let dir = '';
let runA = '';
let runB = '';
let runC = '';
let runD = '';
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'registry-test-'));
  runA = join(dir, 'runs', 'a');
  runB = join(dir, 'runs', 'b');
  runC = join(dir, 'runs', 'c');
  runD = join(dir, 'runs', 'd');
  await trainRun(runA, tinyConfig({ dataset: 'synth', seed: 1 }));
  await trainRun(runB, tinyConfig({ dataset: 'other', seed: 2, method: 'random', filterRatio: 0.5 }));
  await trainRun(runC, tinyConfig({ dataset: 'synth', seed: 3 }), { stopAfterEpochs: 1 });
  await trainRun(runD, tinyConfig({ dataset: 'synth', seed: 4 }), { stopAfterEpochs: 1 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const summaryOf = (runDir: string): Summary => JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as Summary;

test('ingest stores config, metrics and summary; re-ingesting keeps id and created_at and updates status', async () => {
  const reg = Registry.open(join(dir, 'nested', 'folders', 'reg.sqlite'));
  try {
    const a = reg.ingest(runA, { experiment: 'exp1', label: 'baseline' });
    assert.equal(a.id, 1);
    assert.equal(a.runDir, runA);
    assert.equal(a.experiment, 'exp1');
    assert.equal(a.label, 'baseline');
    assert.equal(a.dataset, 'synth');
    assert.equal(a.method, 'none');
    assert.equal(a.seed, 1);
    assert.equal(a.status, 'complete');
    assert.deepEqual(a.summary, summaryOf(runA));
    assert.deepEqual(a.metrics.map((m) => m.epoch), [1, 2]);
    assert.equal(a.config.epochs, 2);

    const c1 = reg.ingest(runC, { experiment: 'exp1' });
    assert.equal(c1.id, 2);
    assert.equal(c1.status, 'incomplete');
    assert.equal(c1.summary, null);
    assert.equal(c1.label, 'none', 'the label defaults to the method');
    assert.equal(c1.metrics.length, 1);

    await trainRun(runC, tinyConfig({ dataset: 'synth', seed: 3 }), { resume: true });
    const c2 = reg.ingest(join(runC, '.', '..', 'c')); // the same directory by another spelling
    assert.equal(c2.id, 2);
    assert.equal(c2.createdAt, c1.createdAt);
    assert.ok(c2.updatedAt >= c1.updatedAt);
    assert.equal(c2.status, 'complete');
    assert.equal(c2.experiment, 'exp1', 'omitted experiment keeps the registered one');
    assert.deepEqual(c2.metrics.map((m) => m.epoch), [1, 2]);
    assert.equal(c2.summary!.test_accuracy, summaryOf(runC).test_accuracy);
    assert.equal(c2.summary!.resumed_from_epoch, 1);
    assert.equal(reg.list().length, 2);
  } finally {
    reg.close();
  }
});

test('list filters by experiment, dataset, method, label and status; get, remove, experiments', () => {
  const reg = Registry.open(join(dir, 'filters.sqlite'));
  try {
    const a = reg.ingest(runA, { experiment: 'e1' });
    const b = reg.ingest(runB, { experiment: 'e2', label: 'random-0.5' });
    const c = reg.ingest(runD);
    assert.deepEqual(reg.list().map((r) => r.id), [a.id, b.id, c.id]);
    assert.deepEqual(reg.list({ experiment: 'e1' }).map((r) => r.id), [a.id]);
    assert.deepEqual(reg.list({ dataset: 'synth' }).map((r) => r.id), [a.id, c.id]);
    assert.deepEqual(reg.list({ method: 'random' }).map((r) => r.id), [b.id]);
    assert.deepEqual(reg.list({ label: 'random-0.5' }).map((r) => r.id), [b.id]);
    assert.deepEqual(reg.list({ dataset: 'synth', experiment: 'e2' }), []);
    assert.deepEqual(reg.list({ status: 'complete' }).map((r) => r.id), [a.id, b.id]);
    assert.deepEqual(reg.list({ status: 'incomplete' }).map((r) => r.id), [c.id]);
    assert.equal(c.experiment, null);
    assert.deepEqual(reg.experiments(), ['e1', 'e2']);
    assert.equal(reg.get(b.id)!.summary!.counts.gradient_samples, summaryOf(runB).counts.gradient_samples);
    assert.equal(reg.get(999), null);
    assert.equal(reg.remove(b.id), true);
    assert.equal(reg.remove(b.id), false);
    assert.equal(reg.get(b.id), null);
    assert.deepEqual(reg.experiments(), ['e1']);
    // Its epochs went with it (ON DELETE CASCADE); ids are never reused, even the last one's.
    assert.equal(reg.remove(c.id), true);
    const d = reg.ingest(runB);
    assert.equal(d.id, c.id + 1);
    assert.equal(d.metrics.length, 2);
    assert.deepEqual(reg.list().map((r) => r.id), [a.id, d.id]);
  } finally {
    reg.close();
  }
  const db = new Database(join(dir, 'filters.sqlite'), { readonly: true });
  try {
    const perRun = db.prepare<[], { run_id: number; n: number }>('SELECT run_id, count(*) AS n FROM epochs GROUP BY run_id ORDER BY run_id').all();
    assert.deepEqual(perRun, [{ run_id: 1, n: 2 }, { run_id: 4, n: 2 }]);
  } finally {
    db.close();
  }
});

test('the registry survives reopening and uses WAL with a schema version', () => {
  const path = join(dir, 'reopen.sqlite');
  const r1 = Registry.open(path);
  const id = r1.ingest(runA, { experiment: 'x' }).id;
  r1.close();
  const r2 = Registry.open(path);
  try {
    assert.equal(r2.get(id)!.experiment, 'x');
  } finally {
    r2.close();
  }
  const db = new Database(path, { readonly: true });
  try {
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(db.prepare<[], { n: number }>('SELECT count(*) AS n FROM epochs').get()!.n, 2);
  } finally {
    db.close();
  }
});

test('a second connection reads while another writes', () => {
  const path = join(dir, 'concurrent.sqlite');
  const writer = Registry.open(path);
  const reader = Registry.open(path);
  try {
    writer.ingest(runA);
    assert.equal(reader.list().length, 1);
    writer.ingest(runB);
    assert.equal(reader.list().length, 2);
  } finally {
    writer.close();
    reader.close();
  }
});

test('bad run directories and bad registry files are errors naming the path', () => {
  const reg = Registry.open(join(dir, 'errors.sqlite'));
  try {
    assert.throws(() => reg.ingest(join(dir, 'nowhere')), (e: Error) => e.name === 'UsageError' && e.message.includes(join(dir, 'nowhere')) && /not a run directory/.test(e.message));
    const bad = join(dir, 'runs', 'corrupt');
    cpSync(runA, bad, { recursive: true });
    appendFileSync(join(bad, 'metrics.jsonl'), '{"epoch": 3, "train_loss": \n');
    assert.throws(() => reg.ingest(bad), (e: Error) => e.message.includes(join(bad, 'metrics.jsonl')) && e.message.includes('line 3'));
    assert.equal(reg.list().length, 0, 'nothing was registered');
    const dup = join(dir, 'runs', 'dup');
    cpSync(runA, dup, { recursive: true });
    const first = readFileSync(join(dup, 'metrics.jsonl'), 'utf8').split('\n')[0]!;
    appendFileSync(join(dup, 'metrics.jsonl'), `${first}\n`);
    assert.throws(() => reg.ingest(dup), /metrics\.jsonl: epoch 1 appears twice/);
  } finally {
    reg.close();
  }
  const text = join(dir, 'not-sqlite.sqlite');
  writeFileSync(text, 'this is not a database, just some text that is long enough to have a header\n'.repeat(20));
  assert.throws(() => Registry.open(text), (e: Error) => e.name === 'UsageError' && e.message.includes(text) && /not a saln registry/.test(e.message));
  const other = join(dir, 'other-app.sqlite');
  const db = new Database(other);
  db.exec('CREATE TABLE t (x INTEGER)');
  db.close();
  assert.throws(() => Registry.open(other), (e: Error) => e.message.includes(other) && /not a saln registry \(an SQLite database with other tables\)/.test(e.message));
  const future = join(dir, 'future.sqlite');
  Registry.open(future).close();
  const fdb = new Database(future);
  fdb.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  fdb.close();
  assert.throws(() => Registry.open(future), /newer than this saln's/);
  assert.throws(() => Registry.open(dir), /is a directory/);
});

test('defaultRegistryPath: $SALN_REGISTRY, else the cache folder', () => {
  const saved = { reg: process.env.SALN_REGISTRY, cache: process.env.SALN_CACHE };
  try {
    process.env.SALN_REGISTRY = join(dir, 'env.sqlite');
    assert.equal(defaultRegistryPath(), join(dir, 'env.sqlite'));
    delete process.env.SALN_REGISTRY;
    process.env.SALN_CACHE = join(dir, 'cache');
    assert.equal(defaultRegistryPath(), join(dir, 'cache', 'registry.sqlite'));
  } finally {
    for (const [k, v] of [['SALN_REGISTRY', saved.reg], ['SALN_CACHE', saved.cache]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});
