/**
 * Shared by the hostile-input suite: a spawned CLI with a time limit (so a hang fails the test
 * instead of hanging the run), the exit-code assertion, temp folders, and files made hostile on
 * purpose (links to /dev/zero, FIFOs, a pid no process has).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { Module } from '../../src/nn/index.js';
import { tensor, type Tensor } from '../../src/tensor/index.js';

export interface Spawned {
  code: number | null;
  out: string;
  err: string;
  /** Killed by the time limit: it hung (or ran away). */
  timedOut: boolean;
  seconds: number;
}

/** Runs bin/saln.js in a fresh process, killed after timeoutMs. */
export function spawnCli(argv: string[], o: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Spawned {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'saln.js'), ...argv], {
    encoding: 'utf8', cwd: o.cwd ?? repoRoot, timeout: o.timeoutMs ?? 30_000, killSignal: 'SIGKILL',
    env: { ...process.env, SALN_DEBUG: '', ...o.env },
  });
  const timedOut = r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '', timedOut, seconds: (performance.now() - t0) / 1000 };
}

/** Bad input: exit 2, nothing on stdout, one line on stderr matching re, no stack trace. */
export function expectExit2(r: { code: number | null; out: string; err: string; timedOut?: boolean }, re: RegExp): void {
  assert.ok(!r.timedOut, `it hung (killed after the time limit); stderr: ${r.err}`);
  assert.equal(r.code, 2, `exit code (stderr: ${r.err})`);
  assert.equal(r.out, '');
  assert.match(r.err, re);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
}

export function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `saln-hostile-${prefix}-`));
}

/** A symlink named `name` in dir pointing at /dev/zero (endless bytes). */
export function linkToDevZero(dir: string, name: string): string {
  const p = join(dir, name);
  symlinkSync('/dev/zero', p);
  return p;
}

/** A FIFO at path (nobody ever writes to it: opening it for reading would block forever). */
export function makeFifo(path: string): string {
  const r = spawnSync('mkfifo', [path]);
  assert.equal(r.status, 0, `mkfifo: ${r.stderr}`);
  return path;
}

/** The pid of a process that has exited: what a killed writer leaves in its temporary names. */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** A feature extractor with no weights: the per-channel mean of each image. */
export class MeanFeatures extends Module {
  readonly numFeatures = 3;
  forwardFeatures(x: Tensor): Tensor {
    return x.mean([2, 3]);
  }
  forward(x: Tensor): Tensor {
    return this.forwardFeatures(x);
  }
}

/** A float32 batch of images [n, 3, 2, 2] holding values (padded with 1s). */
export function imageBatch(n: number, values: number[] = []): Tensor {
  const data = new Float32Array(n * 3 * 2 * 2).fill(1);
  data.set(values);
  return tensor(data, { shape: [n, 3, 2, 2] });
}
