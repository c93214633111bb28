/**
 * Atomic writes: readers see either the old file or the complete new one, never half. The new
 * bytes go to `<path>.tmp-<pid>-<random>` first and are renamed over `path`; a process killed
 * mid-write leaves only such a temporary, which cleanStaleTemps removes at the next start.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The temporary name of a write to path by this process. */
export function tempPath(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export function writeFileAtomic(path: string, chunks: Uint8Array[]): void {
  const tmp = tempPath(path);
  const fd = openSync(tmp, 'w');
  try {
    for (const c of chunks) {
      let off = 0;
      while (off < c.length) off += writeSync(fd, c, off, c.length - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/** Whether a process with this id runs (on this machine). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporaries (`*.tmp-<pid>[-…]`, `*.part-<pid>-…`) that processes no longer
 * running left in dir: a killed `data prepare` or feature extraction. Temporaries of live
 * processes (another run writing there now) are left alone. Returns the names removed.
 */
export function cleanStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = /\.(?:tmp|part)-(\d+)(?:-[0-9A-Za-z]+)?$/.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
