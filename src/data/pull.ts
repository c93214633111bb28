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
import { cacheRoot } from './paths.js';
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
export function datasetDir(name: string, cache = cacheRoot()): string {
  return join(cache, 'datasets', knownDataset(name).folder);
}

/**
 * Gets a known dataset into the cache and returns its root: from the network (verified, resumable)
 * or from a local copy (dataDir). A pull that already completed with the same archives is a no-op.
 */
export async function pullDataset(name: string, o: PullOptions = {}): Promise<PullResult> {
  const ds = knownDataset(name);
  const cache = o.cache ?? cacheRoot();
  const dest = datasetDir(name, cache);
  const log = o.onLog ?? (() => {});
  const expected = (a: Archive): string => (o.sha256?.[a.file] ?? a.sha256).toLowerCase();
  for (const file of Object.keys(o.sha256 ?? {})) {
    if (!ds.archives.some((a) => a.file === file)) throw new DataError(`--sha256 names ${file}, which is not an archive of ${name} (${ds.archives.map((a) => a.file).join(', ')})`);
  }

  if (o.dataDir !== undefined) {
    const dir = resolve(o.dataDir);
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
  }

  // A finished pull with the same archives: nothing to do.
  const markerPath = join(dest, MARKER);
  if (existsSync(markerPath)) {
    try {
      const m = JSON.parse(readRegularText(markerPath, { maxBytes: 1 << 20 })) as { archives: { file: string; sha256: string }[] };
      const same = ds.archives.every((a) => m.archives.some((x) => x.file === a.file && x.sha256 === expected(a)));
      const root = ds.rootIn(dest);
      if (same && root !== null) {
        log(`${name} is already in ${dest}`);
        return { dataset: name, kind: ds.kind, root, archives: m.archives.map((x) => ({ ...x, bytes: 0, source: 'reused' as const })), alreadyThere: true };
      }
    } catch {
      // An unreadable marker: pull again.
    }
  }

  const archives: PullResult['archives'] = [];
  for (const a of ds.archives) {
    let path: string;
    let sha: string;
    let bytes: number;
    let source: PullResult['archives'][number]['source'];
    if (o.dataDir !== undefined) {
      path = join(resolve(o.dataDir), a.file);
      regularFileSize(path, { what: 'archive' }); // a FIFO or /dev/zero would never finish hashing
      log(`verifying ${path}`);
      sha = await sha256File(path);
      if (sha !== expected(a)) {
        throw new DataError(`checksum mismatch for ${path}: expected SHA-256 ${expected(a)} but it hashes to ${sha}`, { path });
      }
      bytes = 0;
      source = 'data-dir';
    } else {
      const downloads = join(cache, 'downloads');
      mkdirSync(downloads, { recursive: true });
      const urls = o.baseUrl !== undefined ? [`${o.baseUrl.replace(/\/+$/, '')}/${a.file}`] : a.urls;
      log(`fetching ${a.file} from ${urls[0]}`);
      const r: DownloadResult = await download(urls, join(downloads, a.file), {
        sha256: expected(a), retries: o.retries, onLog: log, onProgress: (got, total) => o.onProgress?.(a.file, got, total ?? a.bytes),
        // Redirects may move between the dataset's own mirrors, nowhere else.
        allowedHosts: ds.archives.flatMap((x) => x.urls.map((u) => new URL(u).hostname)),
      });
      path = r.path;
      sha = r.sha256;
      bytes = r.bytes;
      source = r.reused ? 'reused' : r.resumed ? 'resumed' : 'downloaded';
    }
    log(`unpacking ${a.file} into ${dest}`);
    await unpackTarGz(path, dest);
    archives.push({ file: a.file, sha256: sha, bytes, source });
  }
  const root = ds.rootIn(dest);
  if (root === null) throw new DataError(`the ${name} archive(s) unpacked into ${dest} but do not hold the expected layout`, { path: dest });
  writeFileAtomic(markerPath, [Buffer.from(JSON.stringify({ dataset: name, archives: archives.map(({ file, sha256 }) => ({ file, sha256 })), at: new Date().toISOString() }, null, 1))]);
  return { dataset: name, kind: ds.kind, root, archives, alreadyThere: false };
}
