/**
 * A finished run's record, kept where a checkout keeps it (results/runs/…), so a grid outlives
 * the machine that trained it: config.json, metrics.jsonl and summary.json, and the same three of
 * its reference (a --reference-holdout run), which is everything the registry, the results and
 * the report's tables read. No weights, no checkpoints: KBs per run.
 *
 * archiveRun copies a finished run there; restoreRun copies an archived run back into a missing
 * run directory, where it reads as finished (RunDir.status: summary.json). Both write into a
 * temporary folder renamed into place, and neither overwrites: an archive that already holds
 * another run's record is an error naming both.
 */
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempPath } from '../io/atomic.js';
import { readRegularFile } from '../io/files.js';
import { REFERENCE_SUBDIR, RUN_FILES, RunDir, RunDirError, type RunFile } from './run-dir.js';

/** What a run's record is made of (at the top and in its reference/ folder). */
const RECORD_FILES: readonly RunFile[] = ['config', 'metrics', 'summary'];

/** The record's files that exist under dir, relative to it. */
function recordFiles(dir: string): string[] {
  const names: string[] = [];
  for (const sub of ['', REFERENCE_SUBDIR]) {
    for (const f of RECORD_FILES) {
      const rel = sub ? join(sub, RUN_FILES[f]) : RUN_FILES[f];
      if (existsSync(join(dir, rel))) names.push(rel);
    }
  }
  return names;
}

/** Copies the record's files from `from` into a new folder `to` (temporary, then renamed). */
function copyRecord(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  const tmp = tempPath(to);
  try {
    for (const rel of recordFiles(from)) {
      mkdirSync(dirname(join(tmp, rel)), { recursive: true });
      cpSync(join(from, rel), join(tmp, rel));
    }
    renameSync(tmp, to);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

function sameRecord(a: string, b: string): boolean {
  const fa = recordFiles(a);
  const fb = recordFiles(b);
  return fa.length === fb.length && fa.every((rel, i) => rel === fb[i] && readRegularFile(join(a, rel)).equals(readRegularFile(join(b, rel))));
}

/**
 * Keeps the finished run in runDir as a record in dest: 'archived', or 'unchanged' when dest
 * already holds this record. dest holding another record is a RunDirError.
 */
export function archiveRun(runDir: string, dest: string): 'archived' | 'unchanged' {
  const run = RunDir.open(runDir);
  if (run.status() !== 'done') throw new RunDirError(`${run.path}: not finished (no ${RUN_FILES.summary}); only finished runs are archived`, run.path);
  if (existsSync(dest)) {
    if (sameRecord(run.path, dest)) return 'unchanged';
    throw new RunDirError(`${dest} already holds another record than ${run.path}'s; move one of them away`, dest);
  }
  copyRecord(run.path, dest);
  return 'archived';
}

/** Whether dest holds a finished run's record. */
export function isArchived(dest: string): boolean {
  return RunDir.exists(dest) && RunDir.open(dest).status() === 'done';
}

/** Makes the archived run in src the run directory runDir, which must not exist yet. */
export function restoreRun(src: string, runDir: string): void {
  if (!isArchived(src)) throw new RunDirError(`${src} holds no finished run's record`, src);
  if (existsSync(runDir)) throw new RunDirError(`${runDir} already exists; a record is restored only where no run is`, runDir);
  copyRecord(src, runDir);
}
