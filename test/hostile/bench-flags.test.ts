/**
 * The bench:* scripts' flags: a bad number, a bad list or an unknown flag is one line naming the
 * flag and exit code 2, before any work starts (not a NaN batch size that runs on, nor a stack
 * trace); --help prints the bench's documentation.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../helpers.js';

function bench(script: string, argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'bench', `${script}.js`), ...argv], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bench flags', () => {
  const cases: [string, string[], RegExp][] = [
    ['conv', ['--batch', 'abc'], /^bench:conv: --batch abc: expected an integer >= 1/],
    ['select', ['--ratio', '1.5'], /^bench:select: --ratio 1\.5: expected a number between 0 and 1/],
    ['select', ['--sizes', '32,,64'], /^bench:select: --sizes 32,,64: expected comma-separated integers >= 2/],
    ['gradient-fidelity', ['--checkpoints', '50,x'], /^bench:gradient-fidelity: --checkpoints 50,x: expected comma-separated integers >= 0/],
    ['gradient-fidelity', ['--selectors', 'saln,craig'], /^bench:gradient-fidelity: --selectors must include random/],
    ['gradient-fidelity', ['--lr=-1'], /^bench:gradient-fidelity: --lr -1: expected a number > 0/],
    ['gradient-fidelity', ['--lr', '-1'], /^bench:gradient-fidelity: Option '--lr' argument is ambiguous\. Did you forget/],
    ['train', ['--filter-ratio', '0'], /^bench:train: --filter-ratio 0: expected a number between 0 and 1/],
    ['train', ['--epochs', '3'], /^bench:train: Unknown option '--epochs'/],
    ['dist', ['--ranks', '2.5'], /^bench:dist: --ranks 2\.5: expected an integer >= 1/],
    ['engine', ['--precision', 'fp16'], /^bench:engine: --precision fp16: expected one of auto, fp32, bf16/],
    ['features', ['--device', 'gpu'], /^bench:features: --device gpu: Expected cpu, cuda or cuda:N/],
    // --threads as saln reads it: 4 per core at most (a huge count hangs the engine creating threads).
    ['select', ['--threads', '100000'], /^bench:select: --threads 100000: Expected an integer between 1 and \d+ \(4 threads per core/],
    ['conv', ['--threads', '0'], /^bench:conv: --threads 0: Expected an integer between 1 and/],
    ['gradient-fidelity', ['--threads=-1'], /^bench:gradient-fidelity: --threads -1: Expected an integer between 1 and/],
    ['train', ['--threads', 'two'], /^bench:train: --threads two: Expected an integer between 1 and/],
    ['features_probe', ['--batch'], /^bench:features-probe: Option '--batch <value>' argument missing/],
  ];
  for (const [script, argv, message] of cases) {
    it(`${script} ${argv.join(' ')}: exit 2, naming the flag`, () => {
      const r = bench(script, argv);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
    });
  }

  it('--help prints the bench documentation and exits 0', () => {
    const r = bench('select', ['--help']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^bench:select/);
    assert.match(r.stdout, /npm run bench:select/);
    assert.doesNotMatch(r.stdout, /^\s*\*/m);
  });
});
