/**
 * Unpacking downloaded archives (.tar.gz, .tgz) without trusting them: only regular files and
 * folders are written (a link, device, FIFO or hard link makes the whole archive rejected), no
 * setuid, setgid or sticky bit survives, owners are not kept, and tar itself refuses absolute
 * paths and '..'. The caller unpacks into a fresh folder and removes it when this throws, so a
 * rejected archive leaves no file behind.
 */
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { x as untar, type ReadEntry } from 'tar';
import { FileError } from './errors.js';

/** The entry types written; anything else rejects the archive. */
const ALLOWED = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);
/** Permission bits kept: rwx for user, group and others; never setuid (4000), setgid (2000) or sticky (1000). */
const MODE_MASK = 0o777;

export interface ExtractOptions {
  /** Leading path components dropped (tar's strip). */
  strip?: number;
  /** Only entries (paths inside the archive) for which this returns true are written. */
  keep?: (path: string) => boolean;
}

/** Clears setuid/setgid/sticky bits under dir: a second line of defence behind the entry filter. */
function clearSpecialBits(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.mode & 0o7000) chmodSync(p, st.mode & MODE_MASK);
    if (st.isDirectory()) clearSpecialBits(p);
  }
}

/**
 * Unpacks file into cwd (an existing, fresh folder). Throws a FileError naming the archive and the
 * first refused entry; the caller removes cwd then.
 */
export async function extractArchive(file: string, cwd: string, o: ExtractOptions = {}): Promise<void> {
  const refused: string[] = [];
  try {
    await untar({
      file, cwd, strict: true, strip: o.strip, preserveOwner: false,
      filter: (path: string, entry: unknown) => {
        const e = entry as ReadEntry;
        if (!ALLOWED.has(e.type)) {
          refused.push(`${path} (${e.type})`);
          return false;
        }
        if (o.keep && !o.keep(path)) return false;
        if (typeof e.mode === 'number') e.mode &= MODE_MASK;
        return true;
      },
    });
  } catch (e) {
    throw new FileError(`cannot unpack ${file}: ${(e as Error).message}`, { path: file });
  }
  if (refused.length > 0) {
    throw new FileError(`${file}: refused archive: it holds ${refused.length} entr${refused.length === 1 ? 'y' : 'ies'} that are not plain files or folders (links, devices or FIFOs), e.g. ${refused[0]}`, { path: file });
  }
  clearSpecialBits(cwd);
}
