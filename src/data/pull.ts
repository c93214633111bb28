/**
 * `saln data pull`: the known datasets, where they come from, and how they are unpacked into the
 * cache ($SALN_CACHE/datasets/<name>, default ~/.cache/saln).
 *
 * Checksums. CIFAR-10's SHA-256 is the one many independent projects record for the Toronto
 * archive (170,052,171 bytes; the dataset page itself gives the MD5 c32a1d4a…, which those projects
 * also matched). Oxford-IIIT Pet's are those of TensorFlow Datasets' checksum registry
 * (tensorflow_datasets/datasets/oxford_iiit_pet/checksums.tsv), and torchvision's MD5 pins name the
 * same archives. They were not re-verified from this machine, which cannot reach those addresses:
 * pass `--sha256` to override one if an archive is ever re-issued.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { readRegularText, regularFileSize } from '../io/files.js';
import { cacheDir } from '../cache-dir.js';
import { download, sha256File, unpackTarGz, type DownloadResult } from './download.js';
import { DataError } from './errors.js';
import { findCifar10BinDir, type DatasetKind } from './sources.js';

export interface Archive {
  file: string;
  /** Official address first, then mirrors. */
  urls: string[];
  sha256: string;
  bytes: number;
}

export interface KnownDataset {
  name: string;
  kind: DatasetKind;
  /** Folder under $SALN_CACHE/datasets. */
  folder: string;
  archives: Archive[];
  homepage: string;
  /** The dataset root (what openDataset takes) inside an unpacked folder, or null if absent. */
  rootIn(dir: string): string | null;
}

export const KNOWN_DATASETS: Record<'cifar10' | 'oxford-pets', KnownDataset> = {
  cifar10: {
    name: 'cifar10',
    kind: 'cifar10-bin',
    folder: 'cifar10',
    homepage: 'https://www.cs.toronto.edu/~kriz/cifar.html',
    archives: [{
      file: 'cifar-10-binary.tar.gz',
      urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'],
      sha256: 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd',
      bytes: 170_052_171,
    }],
    rootIn: (dir) => {
      const d = findCifar10BinDir(dir);
      return d !== null && existsSync(join(d, 'test_batch.bin')) ? d : null;
    },
  },
  'oxford-pets': {
    name: 'oxford-pets',
    kind: 'oxford-pets',
    folder: 'oxford-iiit-pet',
    homepage: 'https://www.robots.ox.ac.uk/~vgg/data/pets/',
    archives: [
      {
        file: 'images.tar.gz',
        urls: ['https://thor.robots.ox.ac.uk/datasets/pets/images.tar.gz', 'https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz'],
        sha256: '67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d',
        bytes: 791_918_971,
      },
      {
        file: 'annotations.tar.gz',
        urls: ['https://thor.robots.ox.ac.uk/datasets/pets/annotations.tar.gz', 'https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz'],
        sha256: '52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91',
        bytes: 19_173_078,
      },
    ],
    rootIn: (dir) => (existsSync(join(dir, 'images')) && existsSync(join(dir, 'annotations', 'trainval.txt')) ? dir : null),
  },
};

export type KnownDatasetName = keyof typeof KNOWN_DATASETS;

export function knownDataset(name: string): KnownDataset {
  const d = (KNOWN_DATASETS as Record<string, KnownDataset>)[name];
  if (d === undefined) throw new DataError(`unknown dataset "${name}" (known: ${Object.keys(KNOWN_DATASETS).join(', ')})`);
  return d;
}

export interface PullOptions {
  /** Cache root (default $SALN_CACHE or ~/.cache/saln). */
  cache?: string;
  /** A local copy: either the archives (verified, then unpacked) or an unpacked dataset (used in place). No network. */
  dataDir?: string;
  /** Fetch the archives from `<baseUrl>/<file>` instead of the official addresses (mirrors, tests). */
  baseUrl?: string;
  /** Expected SHA-256 per archive file name, replacing the built-in ones. */
  sha256?: Record<string, string>;
  retries?: number;
  onProgress?: (file: string, received: number, total: number | null) => void;
  onLog?: (message: string) => void;
}

export interface PullResult {
  dataset: string;
  kind: DatasetKind;
  /** What openDataset(kind, root) takes. */
  root: string;
  /** Per archive: fetched, reused from the download folder, or taken from --data-dir. */
  archives: { file: string; sha256: string; bytes: number; source: 'downloaded' | 'resumed' | 'reused' | 'data-dir' }[];
  /** Already unpacked in the cache (or used in place from --data-dir): nothing was unpacked. */
  alreadyThere: boolean;
}

const MARKER = '.saln-pulled.json';

/** Where `pull` unpacks a dataset. */
export function datasetDir(name: string, cache = cacheDir()): string {
  return join(cache, 'datasets', knownDataset(name).folder);
}

type PulledArchive = PullResult['archives'][number];

/** A --data-dir that holds the dataset unpacked (used in place: the result) or its archives (null: pull from them); anything else is an error. */
function unpackedIn(name: string, ds: KnownDataset, dataDir: string, log: (t: string) => void): PullResult | null {
  const dir = resolve(dataDir);
  if (!existsSync(dir)) throw new DataError(`--data-dir ${dir} does not exist`, { path: dir });
  const inPlace = ds.rootIn(dir);
  if (inPlace !== null) {
    log(`using the unpacked ${name} at ${inPlace} (nothing copied)`);
    return { dataset: name, kind: ds.kind, root: inPlace, archives: [], alreadyThere: true };
  }
  const missing = ds.archives.filter((a) => !existsSync(join(dir, a.file)));
  if (missing.length > 0) {
    throw new DataError(`--data-dir ${dir} holds neither an unpacked ${name} nor its archive(s): missing ${missing.map((a) => a.file).join(', ')}`, { path: dir });
  }
  return null;
}

/** The result of a finished pull into dest with the same archives, if there was one. */
function previousPull(name: string, ds: KnownDataset, dest: string, expected: (a: Archive) => string): PullResult | null {
  const markerPath = join(dest, MARKER);
  if (!existsSync(markerPath)) return null;
  try {
    const m = JSON.parse(readRegularText(markerPath, { maxBytes: 1 << 20 })) as { archives: { file: string; sha256: string }[] };
    const same = ds.archives.every((a) => m.archives.some((x) => x.file === a.file && x.sha256 === expected(a)));
    const root = ds.rootIn(dest);
    if (!same || root === null) return null;
    return { dataset: name, kind: ds.kind, root, archives: m.archives.map((x) => ({ ...x, bytes: 0, source: 'reused' as const })), alreadyThere: true };
  } catch {
    return null; // An unreadable marker: pull again.
  }
}

/** An archive from --data-dir, verified against its checksum. */
async function verifyLocalArchive(a: Archive, dataDir: string, sha256: string, log: (t: string) => void): Promise<{ path: string; archive: PulledArchive }> {
  const path = join(resolve(dataDir), a.file);
  regularFileSize(path, { what: 'archive' }); // a FIFO or /dev/zero would never finish hashing
  log(`verifying ${path}`);
  const sha = await sha256File(path);
  if (sha !== sha256) throw new DataError(`checksum mismatch for ${path}: expected SHA-256 ${sha256} but it hashes to ${sha}`, { path });
  return { path, archive: { file: a.file, sha256: sha, bytes: 0, source: 'data-dir' } };
}

/** An archive from the network into <cache>/downloads (verified, resumable, reused when already there). */
async function fetchArchive(a: Archive, ds: KnownDataset, cache: string, sha256: string, o: PullOptions, log: (t: string) => void): Promise<{ path: string; archive: PulledArchive }> {
  const downloads = join(cache, 'downloads');
  mkdirSync(downloads, { recursive: true });
  const urls = o.baseUrl !== undefined ? [`${o.baseUrl.replace(/\/+$/, '')}/${a.file}`] : a.urls;
  log(`fetching ${a.file} from ${urls[0]}`);
  const r: DownloadResult = await download(urls, join(downloads, a.file), {
    sha256, retries: o.retries, onLog: log, onProgress: (got, total) => o.onProgress?.(a.file, got, total ?? a.bytes),
    // Redirects may move between the dataset's own mirrors, nowhere else.
    allowedHosts: ds.archives.flatMap((x) => x.urls.map((u) => new URL(u).hostname)),
  });
  return { path: r.path, archive: { file: a.file, sha256: r.sha256, bytes: r.bytes, source: r.reused ? 'reused' : r.resumed ? 'resumed' : 'downloaded' } };
}

/**
 * Gets a known dataset into the cache and returns its root: from the network (verified, resumable)
 * or from a local copy (dataDir). A pull that already completed with the same archives is a no-op.
 */
export async function pullDataset(name: string, o: PullOptions = {}): Promise<PullResult> {
  const ds = knownDataset(name);
  const cache = o.cache ?? cacheDir();
  const dest = datasetDir(name, cache);
  const log = o.onLog ?? (() => {});
  const expected = (a: Archive): string => (o.sha256?.[a.file] ?? a.sha256).toLowerCase();
  for (const file of Object.keys(o.sha256 ?? {})) {
    if (!ds.archives.some((a) => a.file === file)) throw new DataError(`--sha256 names ${file}, which is not an archive of ${name} (${ds.archives.map((a) => a.file).join(', ')})`);
  }
  const inPlace = o.dataDir !== undefined ? unpackedIn(name, ds, o.dataDir, log) : null;
  if (inPlace) return inPlace;
  const previous = previousPull(name, ds, dest, expected);
  if (previous) {
    log(`${name} is already in ${dest}`);
    return previous;
  }
  const archives: PulledArchive[] = [];
  for (const a of ds.archives) {
    const got = o.dataDir !== undefined ? await verifyLocalArchive(a, o.dataDir, expected(a), log) : await fetchArchive(a, ds, cache, expected(a), o, log);
    log(`unpacking ${a.file} into ${dest}`);
    await unpackTarGz(got.path, dest);
    archives.push(got.archive);
  }
  const root = ds.rootIn(dest);
  if (root === null) throw new DataError(`the ${name} archive(s) unpacked into ${dest} but do not hold the expected layout`, { path: dest });
  writeFileAtomic(join(dest, MARKER), [Buffer.from(JSON.stringify({ dataset: name, archives: archives.map(({ file, sha256 }) => ({ file, sha256 })), at: new Date().toISOString() }, null, 1))]);
  return { dataset: name, kind: ds.kind, root, archives, alreadyThere: false };
}
