/** Results over several machines: every time in the reference machine's seconds, accuracies untouched. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RunRecord } from '../../src/experiments/run-record.js';
import { MachineTimes } from '../../src/experiments/machines.js';
import { buildResults } from '../../src/reports/results.js';
import { machineName } from '../../src/train/machine-cpu.js';
import { fakeRun } from './fixtures.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'saln-machines-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const on = (r: RunRecord, machine: string): RunRecord => ({ ...r, config: { ...r.config, extra: { ...r.config.extra, machine } } });

test('a run of a machine twice as fast counts its seconds twice; a run without a machine record is the reference machine\'s', () => {
  // Standard training takes 10 s on the reference machine and 5 s on "fast".
  const file = join(dir, 'machines.json');
  writeFileSync(file, JSON.stringify({ reference: { name: 'slow', none_median_seconds: 10 }, machines: [{ name: 'fast', none_median_seconds: 5, note: 'calibration' }] }));
  const runs = [
    fakeRun({ id: 1, label: 'none', seed: 0, test: 0.8, wall: 10, epochs: [{ val: 0.7, wall: 5 }, { val: 0.8, wall: 5 }] }),
    on(fakeRun({ id: 2, label: 'none', seed: 1, test: 0.8, wall: 10, epochs: [{ val: 0.7, wall: 5 }, { val: 0.8, wall: 5 }] }), 'slow'),
    // The same curve in half the seconds on the fast machine: 95% of 0.8 after its second epoch, at 2.5 + 2.5 s.
    on(fakeRun({ id: 3, label: 'random', seed: 0, ratio: 0.8, test: 0.72, wall: 5, epochs: [{ val: 0.6, wall: 2.5 }, { val: 0.76, wall: 2.5 }] }), 'fast'),
    fakeRun({ id: 4, label: 'random', seed: 1, ratio: 0.8, test: 0.7, wall: 10, epochs: [{ val: 0.6, wall: 5 }, { val: 0.76, wall: 5 }] }),
  ];
  const scaled = buildResults('m', runs, 4, { secondsScale: MachineTimes.read(file).secondsScale() });
  const plain = buildResults('m', runs, 4);
  const rnd = scaled.entries.find((e) => e.label === 'random')!;
  assert.deepEqual(rnd.per_seed.map((s) => s.wall_seconds), [10, 10], 'seed 0\'s 5 s on the fast machine are 10 of the reference\'s');
  assert.deepEqual(rnd.wall_seconds, { mean: 10, ci95: 0 });
  assert.deepEqual(rnd.time_to_95pct, { mean: 10, ci95: 0, reached: 2, of: 2 });
  const before = plain.entries.find((e) => e.label === 'random')!;
  assert.deepEqual(before.per_seed.map((s) => s.wall_seconds), [5, 10]);
  assert.deepEqual([rnd.test_accuracy, rnd.delta_vs_none], [before.test_accuracy, before.delta_vs_none], 'accuracies and their Δ untouched');

  // A machine the file does not list is an error naming the run and the machine.
  const other = [...runs, on(fakeRun({ id: 5, label: 'random', seed: 2, ratio: 0.8, test: 0.7, wall: 3 }), 'unlisted CPU')];
  assert.throws(() => buildResults('m', other, 5, { secondsScale: MachineTimes.read(file).secondsScale() }), /machines\.json: .* trained on "unlisted CPU", which the file does not list/);
});

test('a bad machines file names the file and the field', () => {
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ reference: { none_median_seconds: 10 }, machines: [{ name: 'x', none_median_seconds: -1 }] }));
  assert.throws(() => MachineTimes.read(file), /bad\.json: not a machines file \(machines\[0\]\.none_median_seconds: /);
  writeFileSync(file, '{');
  assert.throws(() => MachineTimes.read(file), /cannot read .*bad\.json as JSON/);
});

test('machineName: the CPU model with its family and model numbers, and the CPUs this process may use', () => {
  const name = machineName();
  assert.ok(name.endsWith(`, ${availableParallelism()} CPUs`), name);
  const model = existsSync('/proc/cpuinfo') ? /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() : undefined;
  if (model) assert.match(name, new RegExp(`^${model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(family \\d+, model \\d+\\), `));
});
