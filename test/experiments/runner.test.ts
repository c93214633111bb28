/** `saln experiment`'s config and grid runner: validation naming fields, the grid, skip and resume. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseExperiment, readExperiment } from '../../src/experiments/config.js';
import { finishedRecords, planExperiment, runExperiment, runState, type ExperimentIO } from '../../src/experiments/runner.js';
import { MachineTimes } from '../../src/experiments/machines.js';
import { Registry } from '../../src/experiments/registry.js';
import { writeCifarBinary } from '../data/fixtures.js';

let dir = '';
let data = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'saln-experiment-'));
  data = join(dir, 'c10');
  writeCifarBinary(data, 12); // 60 train (54 after the 10% validation split… see loadData), 12 test
  process.env.SALN_CACHE = join(dir, 'cache');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const yaml = (out: string): string => `
name: tiny
out: ${out}
datasets:
  - { dataset: cifar10, dataDir: c10 }
model: tiny-cnn
seeds: [0, 1]
train: { epochs: 2, batchSize: 8, lr: 0.05, filterRatio: 0.5 }
methods:
  - none
  - random
  - { method: saln, featureSource: pixels }
  - jest
reference: { holdout: 10, epochs: 1 }
`;

function quietIO(log: string[]): ExperimentIO {
  return { progress: false, log: (t) => log.push(t), warn: (t) => log.push(`warning: ${t}`) };
}

test('config errors name the field by its path in the file', () => {
  const file = join(dir, 'bad.yaml');
  const bad = (text: string, re: RegExp): void => assert.throws(() => parseExperiment(text, file), (e: Error) => {
    assert.match(e.message, re);
    assert.ok(e.message.startsWith(file), e.message);
    return true;
  });
  bad('name: x\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmethods: [none]\ntrain: { epoch: 3 }\n', /train\.epoch: unknown option/);
  bad('name: x\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmethods: [none, jest]\n', /reference: method jest needs a reference model/);
  bad('name: x\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmethods: [none, { method: saln, seed: 3 }]\n', /methods\[1\]\.seed: seed is set by the experiment grid/);
  bad('name: x\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmethods: [saln, saln]\n', /methods\[1\]\.label: label "saln" is used twice/);
  bad('name: "a b"\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmethods: [none]\n', /name: letters, digits/);
  bad('name: x\nmethods: [none]\n', /datasets: /);
  bad('name: x\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmethods: [none]\nextra: 1\n', /\(top level\): .*extra/);
  bad('name: [x\n', /not valid YAML/);
  // Validated per run by saln train's own rules: the cell and the field are named.
  const exp = parseExperiment('name: x\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmodel: tiny-cnn\ntrain: { batchSize: 8 }\nmethods: [none, { method: random, filterRatio: 1.5 }]\n', join(dir, 'x.yaml'));
  assert.throws(() => planExperiment(exp), /methods\[1\] \(random\), seed 0: filterRatio: must be in \[0, 1\)/);
  const missing = parseExperiment('name: x\ndatasets: [{ dataset: cifar10, dataDir: nowhere }]\nmethods: [none]\n', join(dir, 'x.yaml'));
  assert.throws(() => planExperiment(missing), /dataDir: .*nowhere does not exist/);
  assert.throws(() => readExperiment(join(dir, 'absent.yaml')), /cannot read experiment config .*absent\.yaml/);
});

test('evalEvery: set for every method under train, overridden per method, validated by saln train\'s rules', () => {
  const exp = parseExperiment('name: x\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmodel: tiny-cnn\ntrain: { batchSize: 8, evalEvery: 32 }\nmethods: [none, { method: random, evalEvery: 8 }]\n', join(dir, 'x.yaml'));
  assert.deepEqual(planExperiment(exp).map((p) => [p.label, p.config!.evalEvery]), [['none', 32], ['random', 8]]);
  const bad = parseExperiment('name: x\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmodel: tiny-cnn\ntrain: { evalEvery: 0 }\nmethods: [none]\n', join(dir, 'x.yaml'));
  assert.throws(() => planExperiment(bad), /methods\[0\] \(none\), seed 0: evalEvery: must be >= 1/);
  const off = parseExperiment('name: x\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmodel: tiny-cnn\nmethods: [none]\n', join(dir, 'x.yaml'));
  assert.equal(planExperiment(off)[0]!.config!.evalEvery, undefined, 'off unless set');
});

test('relative paths resolve against the config file; JSON configs work too', () => {
  const file = join(dir, 'rel.json');
  writeFileSync(file, JSON.stringify({ name: 'rel', out: 'out-rel', datasets: [{ dataset: 'cifar10', dataDir: 'c10' }], methods: ['none'] }));
  const exp = readExperiment(file);
  assert.equal(exp.out, join(dir, 'out-rel'));
  assert.equal(exp.datasets[0]!.dataDir, data);
  assert.equal(exp.model, 'resnet18-cifar');
  assert.deepEqual(exp.seeds, [0]);
});

test('runs the grid, then skips finished runs and resumes an interrupted one', async () => {
  const out = join(dir, 'exp');
  const file = join(dir, 'tiny.yaml');
  writeFileSync(file, yaml(out));
  const exp = readExperiment(file);
  const plans = planExperiment(exp);
  assert.equal(plans.length, 8);
  assert.deepEqual(plans.map((p) => `${p.label}/${p.seed}`), ['none/0', 'random/0', 'saln/0', 'jest/0', 'none/1', 'random/1', 'saln/1', 'jest/1']);
  assert.equal(plans[0]!.config!.filterRatio, 0, 'none trains every sample');
  assert.equal(plans[1]!.config!.filterRatio, 0.5);

  const log: string[] = [];
  const seen: string[] = [];
  const outcomes = await runExperiment(exp, { ...quietIO(log), onRun: (p, phase) => seen.push(`${p.label}/${p.seed}:${phase}`) });
  assert.equal(outcomes.length, 8);
  assert.ok(outcomes.every((o) => o.state === 'new' && o.summary !== null));
  assert.equal(seen.filter((s) => s.endsWith(':epoch')).length, 16, 'one epoch hook per epoch');
  for (const p of plans) assert.ok(existsSync(join(p.runDir, 'summary.json')), p.runDir);
  // One reference per seed, shared; every method trains on the same samples.
  assert.ok(existsSync(join(out, 'references', 'cifar10', 'seed-0', 'summary.json')));
  const ids = (p: (typeof plans)[number]) => readFileSync(join(p.runDir, 'train_ids.json'), 'utf8');
  assert.equal(ids(plans[0]!), ids(plans[3]!));
  assert.equal(ids(plans[1]!), ids(plans[2]!));
  // --reference-scores precomputed (the default): the reference scores each training sample once, not every epoch's draws.
  assert.equal(outcomes[3]!.summary!.counts.reference_samples, outcomes[3]!.summary!.counts.seen_samples / 2);

  // Again: nothing to do.
  const log2: string[] = [];
  const again = await runExperiment(exp, quietIO(log2));
  assert.ok(again.every((o) => o.state === 'done'));
  assert.match(log2[0]!, /8 runs \(8 done, 0 to run\)/);
  assert.deepEqual(again.map((o) => o.summary!.test_accuracy), outcomes.map((o) => o.summary!.test_accuracy));

  // A run whose summary is gone but whose checkpoint is there resumes (and ends where it was).
  const victim = plans[2]!;
  unlinkSync(join(victim.runDir, 'summary.json'));
  const third = await runExperiment(exp, quietIO([]));
  assert.equal(third[2]!.state, 'interrupted');
  assert.equal(third[2]!.summary!.test_accuracy, outcomes[2]!.summary!.test_accuracy);

  // A changed configuration does not silently reuse the old runs.
  writeFileSync(file, yaml(out).replace('lr: 0.05', 'lr: 0.01'));
  await assert.rejects(runExperiment(readExperiment(file), quietIO([])), /holds a run with another configuration/);
});

test('wallBudgetOf: the named entry runs first, every seed; then each wall cell trains for the median of its wall seconds, seed by seed', async () => {
  const out = join(dir, 'exp-wall');
  const text = `name: wall\nout: ${out}\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmodel: tiny-cnn\nseeds: [0, 1, 2]\ntrain: { epochs: 1, batchSize: 8, lr: 0.05, filterRatio: 0.5 }\n`
    + 'methods:\n  - none\n  - { method: random, label: random-wall, wallBudgetOf: none, epochs: 50 }\n  - { method: random, epochs: 1 }\n';
  const exp = parseExperiment(text, join(dir, 'wall.yaml'));
  const before = planExperiment(exp);
  assert.deepEqual(before.filter((p) => p.label === 'random-wall').map((p) => [p.config, p.waitsFor]), [[null, 'none'], [null, 'none'], [null, 'none']]);
  const log: string[] = [];
  const outcomes = await runExperiment(exp, quietIO(log));
  // The three none runs first, then seed by seed, each wall cell in its place.
  assert.deepEqual(outcomes.map((o) => `${o.plan.label}/${o.plan.seed}`), ['none/0', 'none/1', 'none/2', 'random-wall/0', 'random/0', 'random-wall/1', 'random/1', 'random-wall/2', 'random/2']);
  const walls = outcomes.slice(0, 3).map((o) => o.summary!.wall_seconds).sort((a, b) => a - b);
  for (const o of outcomes.filter((x) => x.plan.label === 'random-wall')) {
    assert.equal(o.plan.config!.budgetSeconds, walls[1], 'the median of none\'s wall seconds');
    assert.equal(o.summary!.stopped_by, 'budget-seconds', 'a budget this short stops the run long before 50 epochs');
  }
  assert.ok(log.some((l) => /3 of them on a wall budget from other runs, once those are done/.test(l)));
  // Bad references are named.
  const bad = (m: string): RegExp | void => assert.throws(() => parseExperiment(`name: b\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmethods:\n${m}`, join(dir, 'b.yaml')), /methods\[1\]\.wallBudgetOf/);
  bad('  - none\n  - { method: random, wallBudgetOf: nothing }\n');
  bad('  - none\n  - { method: random, wallBudgetOf: random }\n');
  bad('  - none\n  - { method: random, wallBudgetOf: none, budgetSeconds: 5 }\n');
});

test('an entry\'s own seeds: the grid goes seed by seed, each entry in the seeds it lists', () => {
  const exp = parseExperiment('name: s\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmodel: tiny-cnn\nseeds: [0, 1, 2]\nmethods:\n  - { method: none, seeds: [0, 1, 2, 3, 4] }\n  - { method: random, filterRatio: 0.5 }\n  - { method: loss-topk, seeds: [0] }\n', join(dir, 's.yaml'));
  assert.deepEqual(planExperiment(exp).map((p) => `${p.label}/${p.seed}`), ['none/0', 'random/0', 'loss-topk/0', 'none/1', 'random/1', 'none/2', 'random/2', 'none/3', 'none/4']);
  assert.throws(() => parseExperiment('name: s\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmethods: [{ method: none, seeds: [1, 1] }]\n', join(dir, 's.yaml')), /methods\[0\]\.seeds: a seed is listed twice/);
});

test('finishedRecords: the planned cells finished now, read from their directories, whichever experiment trained them', async () => {
  const out = join(dir, 'exp-finished');
  const exp = parseExperiment(`name: fin\nout: ${out}\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmodel: tiny-cnn\nseeds: [0]\ntrain: { epochs: 1, batchSize: 8, lr: 0.05, filterRatio: 0.5 }\nmethods: [none, random]\n`, join(dir, 'fin.yaml'));
  await runExperiment(exp, quietIO([]));
  const plans = planExperiment(exp);
  const reg = Registry.open(join(dir, 'fin.sqlite'));
  try {
    // none was registered by another experiment sharing the folder; random's run is then discarded (moved away).
    reg.ingest(plans[0]!.runDir, { experiment: 'other', label: 'none' });
    reg.ingest(plans[1]!.runDir, { experiment: 'fin', label: 'random' });
    renameSync(plans[1]!.runDir, `${plans[1]!.runDir}-discarded`);
    const recs = finishedRecords(plans, reg);
    assert.deepEqual(recs.map((r) => [r.label, r.status, r.experiment]), [['none', 'complete', 'other']]);
    assert.equal(reg.list({ experiment: 'fin' }).length, 1, 'the stale row stays in the registry, but is no result');
  } finally {
    reg.close();
  }
});

test('a cell killed before its first checkpoint (config.json, no checkpoint) is started over, not refused', async () => {
  const out = join(dir, 'exp-early-kill');
  const exp = parseExperiment(`name: early\nout: ${out}\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmodel: tiny-cnn\nseeds: [0]\ntrain: { epochs: 1, batchSize: 8, lr: 0.05 }\nmethods: [none]\n`, join(dir, 'early.yaml'));
  const [first] = await runExperiment(exp, quietIO([]));
  // What a kill in the first epoch leaves: the config and the ids, no checkpoint, no metrics, no summary.
  for (const f of ['checkpoint.safetensors', 'summary.json', 'metrics.jsonl']) rmSync(join(first!.plan.runDir, f), { force: true });
  assert.equal(runState(planExperiment(exp)[0]!), 'interrupted');
  const [again] = await runExperiment(exp, quietIO([]));
  assert.equal(again!.state, 'interrupted');
  assert.equal(again!.summary!.test_accuracy, first!.summary!.test_accuracy, 'the same run, started over');
});

test('a wall budget holds for one machine: another machine\'s seconds are refused without --machines, converted with it, and each run is held to its own machine\'s budget', async () => {
  const out = join(dir, 'exp-machines');
  const exp = parseExperiment(`name: machines\nout: ${out}\ndatasets: [{ dataset: cifar10, dataDir: c10 }]\nmodel: tiny-cnn\nseeds: [0, 1]\ntrain: { epochs: 1, batchSize: 8, lr: 0.05, filterRatio: 0.5 }\n`
    + 'methods:\n  - none\n  - { method: random, label: random-wall, wallBudgetOf: none, epochs: 50 }\n', join(dir, 'machines.yaml'));
  const on = async <T>(name: string, f: () => T | Promise<T>): Promise<T> => {
    const before = process.env.SALN_MACHINE_NAME;
    process.env.SALN_MACHINE_NAME = name;
    try {
      return await f();
    } finally {
      if (before === undefined) delete process.env.SALN_MACHINE_NAME;
      else process.env.SALN_MACHINE_NAME = before;
    }
  };
  const wallOf = (seed: number): string => join(out, 'runs', 'cifar10', 'random-wall', `seed-${seed}`);
  const specOf = (seed: number): { budgetSeconds: number; machine: string } => {
    const c = JSON.parse(readFileSync(join(wallOf(seed), 'config.json'), 'utf8')) as { budget: { seconds: number }; extra: { machine: string } };
    return { budgetSeconds: c.budget.seconds, machine: c.extra.machine };
  };
  // Everything trains on machine A; the budget is none's median there.
  const first = await on('A', () => runExperiment(exp, quietIO([])));
  const walls = first.filter((o) => o.plan.label === 'none').map((o) => o.summary!.wall_seconds);
  const median = (walls[0]! + walls[1]!) / 2;
  assert.deepEqual(specOf(1), { budgetSeconds: median, machine: 'A' });

  // On machine B, seed 1's wall cell is to train again: A's seconds are no budget there.
  rmSync(wallOf(1), { recursive: true });
  await on('B', () => {
    const plans = planExperiment(exp);
    assert.equal(runState(plans[1]!), 'done', 'seed 0 trained on A, held to A\'s budget');
    assert.throws(() => runState(plans[3]!), /cifar10\/random-wall\/seed 1: cifar10\/none's runs, which a wall budget comes from, trained on "A", not on "B": .*--machines FILE/);
  });
  await on('B', async () => assert.rejects(runExperiment(exp, quietIO([])), /trained on "A", not on "B"/));
  assert.ok(!existsSync(wallOf(1)), 'nothing trained');

  // With the machines file (B is twice as fast), B's budget is half of A's, and each run is held to its own machine's.
  const machinesFile = join(dir, 'machines.json');
  writeFileSync(machinesFile, JSON.stringify({ reference: { name: 'A', none_median_seconds: 10 }, machines: [{ name: 'B', none_median_seconds: 5 }] }));
  const machines = MachineTimes.read(machinesFile);
  const second = await on('B', () => runExperiment(exp, { ...quietIO([]), machines }));
  assert.deepEqual(second.map((o) => `${o.plan.label}/${o.plan.seed}:${o.state}`), ['none/0:done', 'none/1:done', 'random-wall/0:done', 'random-wall/1:new']);
  const b = specOf(1);
  assert.equal(b.machine, 'B');
  assert.ok(Math.abs(b.budgetSeconds - median / 2) < 1e-12, `${b.budgetSeconds} is ${median} in B's seconds`);
  await on('A', () => assert.deepEqual(planExperiment(exp, { machines }).map(runState), ['done', 'done', 'done', 'done'], 'each run held to the budget of the machine it trained on'));
  // Without the file, B's run has no budget on A's terms.
  await on('A', () => assert.throws(() => runState(planExperiment(exp)[3]!), /random-wall\/seed-1 trained on "B", and cifar10\/none's runs, .* trained on "A", not on "B"/));
  // An unfinished wall run resumed on another machine, and a new wall cell on an unlisted machine, are errors.
  await on('C', () => assert.deepEqual(planExperiment(exp, { machines }).map(runState), ['done', 'done', 'done', 'done'], 'finished runs need no budget of C\'s'));
  rmSync(join(wallOf(1), 'summary.json'));
  await on('A', () => assert.throws(() => runState(planExperiment(exp, { machines })[3]!), /this wall cell started on "B", on that machine's budget; resumed on "A"/));
  rmSync(wallOf(1), { recursive: true });
  await on('C', () => assert.throws(() => runState(planExperiment(exp, { machines })[3]!), /random-wall\/seed 1: .*machines\.json: this wall cell is for "C", which the file does not list/));
});
