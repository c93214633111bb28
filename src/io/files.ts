/**
 * Reading files the user points saln at, safely: only regular files (after following links), with
 * a byte cap, and never blocking on a FIFO or a device.
 *
 * Each reader stats the path first, so a FIFO, a device (/dev/zero), a socket or a folder is
 * refused without being opened (opening a FIFO for reading blocks until a writer comes). The open
 * itself uses O_NONBLOCK and the descriptor is checked again with fstat, which closes the race
 * where the path is swapped for a FIFO between the stat and the open. Reads stop at the size fstat
 * gave, so a file that grows while it is read cannot make saln allocate without limit.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { FileError } from './errors.js';

/** What a non-regular file is, for messages: "a FIFO (named pipe)", "a character device"… */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** " (a link to /dev/zero)" when path is a link, else "". */
function linkNote(path: string): string {
  try {
    return lstatSync(path).isSymbolicLink() ? ` (a link to ${realpathSync(path)})` : '';
  } catch {
    return '';
  }
}

/** Why a stat result is not a readable regular file of at most maxBytes, or null when it is. */
export function regularFileProblem(path: string, st: Stats, maxBytes: number, hint = ''): string | null {
  if (!st.isFile()) return `it is ${fileKind(st)}${linkNote(path)}, not a regular file`;
  if (st.size > maxBytes) return `it is ${st.size} bytes, over the limit of ${maxBytes}${hint ? ` (${hint})` : ''}`;
  return null;
}

export interface ReadOptions {
  /** What the file is, for messages: "cannot read <what> <path>: …" (default: none). */
  what?: string;
  /** The most bytes read; a larger file is refused before reading (default 1 GiB). */
  maxBytes?: number;
  /** How to raise maxBytes, appended to the over-limit message. */
  limitHint?: string;
}

const DEFAULT_MAX = 1 << 30;

function prefix(path: string, what: string | undefined): string {
  return `cannot read ${what ? `${what} ` : ''}${path}`;
}

/** The flags of every open here: read-only, never blocking, never a controlling terminal. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/**
 * An open regular file: opened after a stat, checked again on its descriptor, read at positions.
 * Close it (in a finally).
 */
export class RegularFile {
  private constructor(readonly path: string, readonly fd: number, readonly size: number, private readonly what: string | undefined) {}

  /** Opens path if it is a regular file of at most maxBytes (see the file comment). */
  static open(path: string, o: ReadOptions = {}): RegularFile {
    const max = o.maxBytes ?? DEFAULT_MAX;
    let st: Stats;
    try {
      st = statSync(path);
    } catch (e) {
      throw new FileError(`${prefix(path, o.what)}: ${(e as Error).message}`, { path });
    }
    const before = regularFileProblem(path, st, max, o.limitHint);
    if (before !== null) throw new FileError(`${prefix(path, o.what)}: ${before}`, { path });
    let fd: number;
    try {
      fd = openSync(path, OPEN_FLAGS);
    } catch (e) {
      throw new FileError(`${prefix(path, o.what)}: ${(e as Error).message}`, { path });
    }
    const now = fstatSync(fd);
    const after = regularFileProblem(path, now, max, o.limitHint);
    if (after !== null) {
      closeSync(fd);
      throw new FileError(`${prefix(path, o.what)}: ${after}`, { path });
    }
    return new RegularFile(path, fd, now.size, o.what);
  }

  /** Exactly len bytes at pos; a file that ends sooner (it shrank) is an error. */
  read(pos: number, len: number): Buffer {
    if (pos + len > this.size) throw new FileError(`${prefix(this.path, this.what)}: it is ${this.size} bytes, fewer than the ${pos + len} needed`, { path: this.path });
    const buf = Buffer.allocUnsafe(len);
    let off = 0;
    while (off < len) {
      const n = readSync(this.fd, buf, off, len - off, pos + off);
      if (n === 0) throw new FileError(`${prefix(this.path, this.what)}: it ended at byte ${pos + off} while being read (did it change?)`, { path: this.path });
      off += n;
    }
    return buf;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Reads a whole regular file (see the file comment): the usual replacement for readFileSync. */
export function readRegularFile(path: string, o: ReadOptions = {}): Buffer {
  const f = RegularFile.open(path, o);
  try {
    return f.read(0, f.size);
  } finally {
    f.close();
  }
}

/** readRegularFile as UTF-8 text. */
export function readRegularText(path: string, o: ReadOptions = {}): string {
  return readRegularFile(path, o).toString('utf8');
}

/** The size of a regular file, or a FileError saying what it is instead (for hashing and streaming readers). */
export function regularFileSize(path: string, o: ReadOptions = {}): number {
  const f = RegularFile.open(path, o);
  f.close();
  return f.size;
}

/**
 * The async form, for readers on libuv's pool (image decoding): resolves to the bytes, or rejects
 * with an Error whose message is the reason alone ("it is a FIFO (named pipe), not a regular
 * file"), for the caller to put next to the path.
 */
export async function readRegularFileAsync(path: string, maxBytes: number, limitHint = ''): Promise<Buffer> {
  const before = regularFileProblem(path, await stat(path), maxBytes, limitHint);
  if (before !== null) throw new Error(before);
  const fh = await open(path, OPEN_FLAGS);
  try {
    const st = await fh.stat();
    const after = regularFileProblem(path, st, maxBytes, limitHint);
    if (after !== null) throw new Error(after);
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const { bytesRead } = await fh.read(buf, off, st.size - off, off);
      if (bytesRead === 0) throw new Error(`it ended at byte ${off} of ${st.size} while being read (did it change?)`);
      off += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}
