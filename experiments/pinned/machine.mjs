// This machine's name as runs record it (today's code: dist/src/train/machine-cpu.js), its folder
// name, and its standard-training median from results/p-cifar-ft.machines.json (or nothing).
//   node experiments/pinned/machine.mjs name|slug|budget
//   node experiments/pinned/machine.mjs add CALIBRATION_RESULTS.json   (adds or checks this machine's entry)
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { machineName } = await import(join(repo, 'dist/src/train/machine-cpu.js'));
const file = join(repo, 'results/p-cifar-ft.machines.json');
const name = machineName();
const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
const machines = JSON.parse(readFileSync(file, 'utf8'));
const entry = machines.machines.find((m) => m.name === name);
const [what, arg] = process.argv.slice(2);
if (what === 'name') console.log(name);
else if (what === 'slug') console.log(slug);
else if (what === 'budget') {
  if (!entry) { console.error(`${file}: no entry for "${name}": run experiments/pinned/calibrate.sh first`); process.exit(2); }
  console.log(entry.none_median_seconds);
} else if (what === 'add') {
  const results = JSON.parse(readFileSync(arg, 'utf8'));
  const none = results.entries.find((e) => e.label === 'none');
  if (!none || !results.complete) { console.error(`${arg}: standard training's calibration runs are not all finished`); process.exit(2); }
  const walls = none.per_seed.map((s) => s.wall_seconds).sort((a, b) => a - b);
  const mid = walls.length >> 1;
  const median = walls.length % 2 ? walls[mid] : (walls[mid - 1] + walls[mid]) / 2;
  const note = `median of standard training's ${walls.length} runs here (${walls.join(', ')} s; test accuracy ${none.test_accuracy.mean} ± ${none.test_accuracy.ci95}%), pinned code, ${arg}`;
  if (entry) {
    if (entry.none_median_seconds !== median) { console.error(`${file}: "${name}" is there with ${entry.none_median_seconds} s, not ${median}`); process.exit(2); }
  } else {
    machines.machines.push({ name, none_median_seconds: median, note });
    writeFileSync(`${file}.tmp`, `${JSON.stringify(machines, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  }
  console.log(`${name}: ${median} s`);
} else {
  console.error('usage: machine.mjs name|slug|budget|add FILE');
  process.exit(2);
}
