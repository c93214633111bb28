/**
 * Dataset sources: what is on disk, listed and labelled, before anything is decoded.
 *
 * - 'cifar10-bin': the canonical binary CIFAR-10 (`cifar-10-batches-bin/`: data_batch_1..5.bin,
 *   test_batch.bin; records of 1 label byte + 3,072 bytes of R, G and B planes, 32x32).
 * - 'cifar10-folder': `root/{train,test}/<class>/*.jpg` with CIFAR's ten class names; labels follow
 *   CIFAR's order (airplane = 0 … truck = 9), not the alphabet.
 * - 'oxford-pets': the Oxford-IIIT Pet layout: `images/*.jpg`, `annotations/{trainval,test}.txt`
 *   (and `list.txt`, cross-checked when present); class ids 1–37 become labels 0–36.
 * - 'folder': `root/<class>/**.{jpg,jpeg,png,webp}`, classes sorted by name (code points, as
 *   Python's sorted()). When root holds `train/` (and `test/`, `val/`), those are the splits.
 *
 * Listing never decodes. Sample ids are stable strings that selectors and caches key on: the
 * path relative to root ('train/cat/0001.jpg', 'images/Abyssinian_12.jpg'), or
 * 'cifar10-bin/<split>/<n>' for the binary form.
 */
import { isUtf8 } from 'node:buffer';
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { extname, join, relative, resolve, sep } from 'node:path';
import { readRegularFile, readRegularText } from '../io/files.js';
import { DataError, defaultWarn, type WarnFn } from './errors.js';

export type DatasetKind = 'cifar10-bin' | 'cifar10-folder' | 'oxford-pets' | 'folder';
export const DATASET_KINDS: readonly DatasetKind[] = ['cifar10-bin', 'cifar10-folder', 'oxford-pets', 'folder'];

/** 'all' is the one split of a folder without train/test subfolders (test and val get carved out of it). */
export type SplitName = 'train' | 'val' | 'test' | 'all';

export interface SourceSample {
  /** Stable id, e.g. 'train/cat/0001.jpg' or 'cifar10-bin/train/123'. */
  id: string;
  /** Class index into DatasetSource.classes. */
  label: number;
  /** The file that holds the sample (the .bin file for the binary CIFAR form). */
  path: string;
  /** For 'cifar10-bin': the record's index within `path`. */
  record?: number;
}

export interface DatasetSource {
  kind: DatasetKind;
  /** Absolute path of the dataset's root. */
  root: string;
  classes: string[];
  splits: Partial<Record<SplitName, SourceSample[]>>;
  /** Layout problems found while listing (empty class folders, missing listed images…). */
  warnings: string[];
  /** Files skipped because they are not images (by extension) or sit outside a class folder. */
  ignoredFiles: number;
  /** Samples named by an annotation but absent on disk (Oxford-IIIT Pet), excluded from splits. */
  missing: { path: string; reason: string }[];
}

export interface OpenOptions {
  /** Fail on layout problems (empty class folders, listed images that are missing) instead of warning. */
  strict?: boolean;
  /** Where warnings go (default: stderr). */
  warn?: WarnFn;
}

/** The file extensions read as images (lower case, with the dot); other files are ignored. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png', '.webp']);

/** CIFAR-10's classes in label order. */
export const CIFAR10_CLASSES: readonly string[] = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
/** Bytes per record of the binary CIFAR-10 form: one label byte, then 32·32 R, G and B bytes. */
export const CIFAR10_RECORD_BYTES = 1 + 3 * 32 * 32;
const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
const CIFAR10_TEST_FILES = ['test_batch.bin'];
/** Oxford-IIIT Pet has 37 breeds, ids 1–37. */
export const OXFORD_PETS_CLASSES = 37;

/** Lists and labels a dataset without decoding anything. */
export function openDataset(kind: DatasetKind, root: string, o: OpenOptions = {}): DatasetSource {
  const abs = resolve(root);
  if (!existsSync(abs)) throw new DataError(`dataset root ${abs} does not exist`, { path: abs });
  if (!statSync(abs).isDirectory()) throw new DataError(`dataset root ${abs} is not a folder`, { path: abs });
  const ctx = new Ctx(o);
  let src: DatasetSource;
  switch (kind) {
    case 'cifar10-bin': src = openCifar10Binary(abs); break;
    case 'cifar10-folder': src = openImageFolder(abs, ctx, CIFAR10_CLASSES, 'cifar10-folder'); break;
    case 'oxford-pets': src = openOxfordPets(abs, ctx); break;
    case 'folder': src = openImageFolder(abs, ctx, null, 'folder'); break;
    default: throw new DataError(`Expected one of ${DATASET_KINDS.join(', ')} for the dataset kind but received ${JSON.stringify(kind)}`);
  }
  src.warnings.push(...ctx.warnings);
  return src;
}

class Ctx {
  readonly warnings: string[] = [];
  ignored = 0;
  ignoredExample: string | undefined;
  constructor(readonly o: OpenOptions) {}
  /** A layout problem: an error under strict, else a warning. */
  problem(message: string, path?: string): void {
    if (this.o.strict) throw new DataError(message, { path });
    this.warnings.push(message);
    (this.o.warn ?? defaultWarn)(message);
  }
  ignore(path: string): void {
    this.ignored++;
    this.ignoredExample ??= path;
  }
}

/** Text and binary index files (annotations, CIFAR batches) larger than this are refused unread. */
const MAX_LIST_BYTES = 256 * 1024 * 1024;

/** A folder entry whose name is valid UTF-8. */
interface Entry {
  name: string;
  isDirectory: boolean;
  /** Anything but a folder: a regular file, a link, or a FIFO, device or socket (refused, with that reason, when read). */
  isFileOrLink: boolean;
  isLink: boolean;
}

/** A byte name as text, with the bytes that are not printable ASCII as \xNN escapes. */
function escapeName(name: Buffer): string {
  return Array.from(name, (b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
}

/**
 * The entries of dir, by byte name: a name that is not valid UTF-8 cannot become a sample id or
 * be opened again through a string path, so it is a layout problem (a warning naming it, with its
 * bytes escaped, or an error under strict) rather than a file that silently fails to read.
 */
function listDir(dir: string, ctx: Ctx): Entry[] {
  const out: Entry[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, encoding: 'buffer' })) {
    const raw = e.name as unknown as Buffer;
    if (!isUtf8(raw)) {
      ctx.problem(`a file name that is not valid UTF-8, left out (rename it): ${join(dir, escapeName(raw))}`, dir);
      continue;
    }
    out.push({ name: raw.toString('utf8'), isDirectory: e.isDirectory(), isFileOrLink: !e.isDirectory(), isLink: e.isSymbolicLink() });
  }
  return out;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const posix = (p: string): string => p.split(sep).join('/');

// ---------------------------------------------------------------- CIFAR-10, binary form

/** The folder holding data_batch_1.bin: root itself or root/cifar-10-batches-bin. */
export function findCifar10BinDir(root: string): string | null {
  for (const d of [root, join(root, 'cifar-10-batches-bin')]) if (existsSync(join(d, 'data_batch_1.bin'))) return d;
  return null;
}

function openCifar10Binary(root: string): DatasetSource {
  const dir = findCifar10BinDir(root);
  if (dir === null) {
    throw new DataError(`${root} is not a binary CIFAR-10 folder: expected data_batch_1.bin … data_batch_5.bin and test_batch.bin in it or in its cifar-10-batches-bin/ (run \`saln data pull cifar10\`)`, { path: root });
  }
  const split = (files: string[], name: 'train' | 'test'): SourceSample[] => {
    const out: SourceSample[] = [];
    for (const f of files) {
      const path = join(dir, f);
      if (!existsSync(path)) throw new DataError(`missing CIFAR-10 file ${path}`, { path });
      const bytes = readRegularFile(path, { what: 'CIFAR-10 file', maxBytes: MAX_LIST_BYTES });
      if (bytes.length === 0 || bytes.length % CIFAR10_RECORD_BYTES !== 0) {
        throw new DataError(`${path} is ${bytes.length} bytes, not a whole number of ${CIFAR10_RECORD_BYTES}-byte CIFAR-10 records (truncated?)`, { path });
      }
      const n = bytes.length / CIFAR10_RECORD_BYTES;
      for (let r = 0; r < n; r++) {
        const label = bytes[r * CIFAR10_RECORD_BYTES]!;
        if (label > 9) throw new DataError(`${path}: record ${r} has label ${label}; CIFAR-10 labels are 0–9`, { path });
        out.push({ id: `cifar10-bin/${name}/${out.length}`, label, path, record: r });
      }
    }
    return out;
  };
  return {
    kind: 'cifar10-bin', root: dir, classes: [...CIFAR10_CLASSES],
    splits: { train: split(CIFAR10_TRAIN_FILES, 'train'), test: split(CIFAR10_TEST_FILES, 'test') },
    warnings: [], ignoredFiles: 0, missing: [],
  };
}

/** Reads records [start, start + count) of a binary CIFAR file: their raw 3,073-byte rows. */
export function readCifarRecords(path: string, start: number, count: number): Uint8Array {
  const buf = new Uint8Array(count * CIFAR10_RECORD_BYTES);
  const fd = openSync(path, 'r');
  try {
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, start * CIFAR10_RECORD_BYTES + off);
      if (n === 0) throw new DataError(`${path} ended early while reading CIFAR-10 records ${start}..${start + count - 1}`, { path });
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

// ---------------------------------------------------------------- image folders

/** Image files under dir, recursively, sorted; everything else is counted as ignored. */
function listImages(dir: string, ctx: Ctx): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    const entries = listDir(d, ctx).sort((a, b) => byCodePoint(a.name, b.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory) walk(p);
      else if (e.isFileOrLink && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
      else ctx.ignore(p);
    }
  };
  walk(dir);
  return out;
}

function classDirs(dir: string, ctx: Ctx): string[] {
  const names: string[] = [];
  for (const e of listDir(dir, ctx)) {
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory || (e.isLink && isDir(join(dir, e.name)))) names.push(e.name);
    else ctx.ignore(join(dir, e.name));
  }
  return names.sort(byCodePoint);
}

function openImageFolder(root: string, ctx: Ctx, fixedClasses: readonly string[] | null, kind: DatasetKind): DatasetSource {
  // A `train/` subfolder means the split layout; then test/ and val/ are used when present.
  const splitLayout = isDir(join(root, 'train'));
  const splitDirs: [SplitName, string][] = splitLayout
    ? (['train', 'val', 'test'] as const).filter((s) => isDir(join(root, s))).map((s) => [s, join(root, s)])
    : [['all', root]];
  if (kind === 'cifar10-folder' && !splitLayout) {
    throw new DataError(`${root} is not a CIFAR-10 image folder: expected train/ and test/ subfolders, each with one folder per class`, { path: root });
  }
  const perSplit = new Map(splitDirs.map(([name, dir]) => [name, classDirs(dir, ctx)] as const));
  if (splitLayout) {
    for (const e of readdirSync(root, { withFileTypes: true })) {
      if (!e.name.startsWith('.') && !['train', 'val', 'test'].includes(e.name)) ctx.ignore(join(root, e.name));
    }
  }
  const classes = folderClasses(root, splitDirs, perSplit, fixedClasses);
  const splits: Partial<Record<SplitName, SourceSample[]>> = {};
  for (const [name, dir] of splitDirs) splits[name] = splitSamples(root, dir, classes, ctx, splitLayout ? name : null);
  if (ctx.ignored > 0) {
    (ctx.o.warn ?? defaultWarn)(`ignored ${ctx.ignored} file(s) that are not images in class folders under ${root} (e.g. ${ctx.ignoredExample})`);
  }
  return { kind, root, classes, splits, warnings: [], ignoredFiles: ctx.ignored, missing: [] };
}

/** The class list: the fixed one (CIFAR-10's; a folder outside it is an error), else every split's folders, sorted. */
function folderClasses(root: string, splitDirs: readonly [SplitName, string][], perSplit: ReadonlyMap<SplitName, string[]>, fixedClasses: readonly string[] | null): string[] {
  const found = new Set([...perSplit.values()].flat());
  let classes: string[];
  if (fixedClasses !== null) {
    const unknown = [...found].filter((c) => !fixedClasses.includes(c));
    if (unknown.length > 0) {
      const [s, dir] = splitDirs.find(([s]) => perSplit.get(s)!.includes(unknown[0]!))!;
      throw new DataError(`${join(dir, unknown[0]!)}: "${unknown[0]}" is not a CIFAR-10 class (expected ${fixedClasses.join(', ')}) in split ${s}`, { path: join(dir, unknown[0]!) });
    }
    classes = [...fixedClasses];
  } else {
    classes = [...found].sort(byCodePoint);
  }
  if (classes.length === 0) throw new DataError(`${root} holds no class folders (expected root/<class>/*.jpg, or root/train/<class>/*.jpg)`, { path: root });
  return classes;
}

/** One split's images, labelled by class folder; a missing or empty class folder is a problem (split: its name in the split layout). */
function splitSamples(root: string, dir: string, classes: readonly string[], ctx: Ctx, split: SplitName | null): SourceSample[] {
  const samples: SourceSample[] = [];
  for (let label = 0; label < classes.length; label++) {
    const cdir = join(dir, classes[label]!);
    if (!isDir(cdir)) {
      ctx.problem(`${split !== null ? `split ${split} has no folder for class "${classes[label]}"` : 'missing class folder'}: ${cdir}`, cdir);
      continue;
    }
    const files = listImages(cdir, ctx);
    if (files.length === 0) ctx.problem(`empty class folder (no .jpg, .jpeg, .png or .webp files): ${cdir}`, cdir);
    for (const f of files) samples.push({ id: posix(relative(root, f)), label, path: f });
  }
  return samples;
}

// ---------------------------------------------------------------- Oxford-IIIT Pet

interface PetEntry {
  name: string;
  classId: number;
  breed: string;
  file: string;
  line: number;
}

/** Parses one annotation file: `<image> <class id 1-37> <species> <breed id>` lines, '#' comments. */
function parsePetAnnotations(path: string): PetEntry[] {
  if (!existsSync(path)) {
    throw new DataError(`missing annotation file ${path} (the Oxford-IIIT Pet layout needs annotations/trainval.txt and annotations/test.txt)`, { path });
  }
  const out: PetEntry[] = [];
  const lines = readRegularText(path, { what: 'annotation file', maxBytes: MAX_LIST_BYTES }).split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.trim();
    if (text === '' || text.startsWith('#')) continue;
    const where = `${path}:${i + 1}`;
    const f = text.split(/\s+/);
    if (f.length < 2) throw new DataError(`${where}: expected "<image> <class id> <species> <breed id>" but found "${text}"`, { path, line: i + 1 });
    const [name, idText] = f as [string, string];
    if (/[/\\]/.test(name) || name === '.' || name === '..') throw new DataError(`${where}: "${name}" is not an image name`, { path, line: i + 1 });
    const id = Number(idText);
    if (!/^\d+$/.test(idText) || id < 1 || id > OXFORD_PETS_CLASSES) {
      throw new DataError(`${where}: unknown class id "${idText}" for image ${name} (expected an integer 1–${OXFORD_PETS_CLASSES})`, { path, line: i + 1 });
    }
    if (f.length >= 3 && f[2] !== '1' && f[2] !== '2') {
      throw new DataError(`${where}: unknown species "${f[2]}" for image ${name} (expected 1 = cat or 2 = dog)`, { path, line: i + 1 });
    }
    out.push({ name, classId: id, breed: name.replace(/_\d+$/, ''), file: path, line: i + 1 });
  }
  return out;
}

/**
 * Checks that class ids and breeds agree everywhere: each breed (the image name without its
 * trailing _<n>) takes the class id most of its annotation lines give it, and every line that
 * disagrees is an error naming that line. Returns the class names by id.
 */
function petClassNames(all: PetEntry[]): string[] {
  const votes = new Map<string, Map<number, PetEntry[]>>();
  for (const e of all) {
    let m = votes.get(e.breed);
    if (m === undefined) votes.set(e.breed, (m = new Map()));
    const list = m.get(e.classId);
    if (list === undefined) m.set(e.classId, [e]);
    else list.push(e);
  }
  const idOfBreed = new Map<string, number>();
  for (const [breed, m] of votes) {
    const ranked = [...m.entries()].sort((a, b) => b[1].length - a[1].length || a[0] - b[0]);
    const [bestId, bestLines] = ranked[0]!;
    if (ranked.length > 1) {
      const [, wrong] = ranked[1]!;
      const w = wrong[0]!;
      throw new DataError(`${w.file}:${w.line}: class id ${w.classId} for image ${w.name} contradicts the ${bestLines.length} other annotation line(s) of breed ${breed}, which give class id ${bestId} (e.g. ${bestLines[0]!.file}:${bestLines[0]!.line})`, { path: w.file, line: w.line });
    }
    idOfBreed.set(breed, bestId);
  }
  const names: (string | undefined)[] = new Array(OXFORD_PETS_CLASSES).fill(undefined);
  for (const [breed, id] of idOfBreed) {
    const prev = names[id - 1];
    if (prev !== undefined) {
      const e = votes.get(breed)!.get(id)![0]!;
      throw new DataError(`${e.file}:${e.line}: class id ${id} is given both to breed ${prev} and to breed ${breed} (image ${e.name})`, { path: e.file, line: e.line });
    }
    names[id - 1] = breed;
  }
  return names.map((n, i) => n ?? `class_${i + 1}`);
}

function openOxfordPets(root: string, ctx: Ctx): DatasetSource {
  const imagesDir = join(root, 'images');
  const annDir = join(root, 'annotations');
  if (!isDir(imagesDir)) throw new DataError(`${root} is not an Oxford-IIIT Pet folder: missing ${imagesDir}`, { path: imagesDir });
  const trainval = parsePetAnnotations(join(annDir, 'trainval.txt'));
  const test = parsePetAnnotations(join(annDir, 'test.txt'));
  const listPath = join(annDir, 'list.txt');
  const list = existsSync(listPath) ? parsePetAnnotations(listPath) : [];
  const classes = petClassNames([...trainval, ...test, ...list]);

  // An image in both splits (or twice in one) would leak or double-count.
  const seen = new Map<string, PetEntry>();
  for (const e of [...trainval, ...test]) {
    const prev = seen.get(e.name);
    if (prev !== undefined) {
      throw new DataError(`${e.file}:${e.line}: image ${e.name} is already listed at ${prev.file}:${prev.line}`, { path: e.file, line: e.line });
    }
    seen.set(e.name, e);
  }

  const onDisk = new Set<string>();
  for (const e of listDir(imagesDir, ctx)) {
    if (IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) onDisk.add(e.name);
  }
  const missing: { path: string; reason: string }[] = [];
  const toSamples = (entries: PetEntry[]): SourceSample[] => {
    const out: SourceSample[] = [];
    for (const e of entries) {
      const file = `${e.name}.jpg`;
      const path = join(imagesDir, file);
      if (!onDisk.has(file)) {
        const reason = `listed at ${e.file}:${e.line} but not found`;
        ctx.problem(`missing image ${path}: ${reason}`, path);
        missing.push({ path, reason });
        continue;
      }
      out.push({ id: `images/${file}`, label: e.classId - 1, path });
    }
    return out;
  };
  const splits = { train: toSamples(trainval), test: toSamples(test) };
  const ignored = [...onDisk].filter((f) => !seen.has(f.replace(/\.[^.]+$/, ''))).length;
  return { kind: 'oxford-pets', root, classes, splits, warnings: [], ignoredFiles: ignored, missing };
}

/** Per-class sample counts of a split (a JS loop over labels, not pixels). */
export function classCounts(samples: readonly { label: number }[], nClasses: number): number[] {
  const c = new Array<number>(nClasses).fill(0);
  for (const s of samples) c[s.label]!++;
  return c;
}
