/**
 * `saln data`: get datasets, prepare their caches, inspect them.
 *   saln data pull cifar10                         → ~/.cache/saln/datasets/cifar10 (verified, resumable)
 *   saln data pull oxford-pets --data-dir ~/dl     → a local copy, no network
 *   saln data prepare cifar10-folder ../shared/datasets/cifar10-jpg --json
 *   saln data info oxford-pets ../shared/datasets/oxford-iiit-pet-mini
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { byteSize, positiveInt } from '../args.js';
import { UsageError, type CliIO } from '../io.js';

const KINDS = ['cifar10', 'oxford-pets', 'cifar10-bin', 'cifar10-folder', 'folder'] as const;
type KindArg = (typeof KINDS)[number];

function sizeArg(text: string): number | [number, number] {
  const m = /^\s*(\d+)\s*(?:x\s*(\d+)\s*)?$/.exec(text);
  const ok = (v: string | undefined): boolean => v === undefined || (Number(v) >= 1 && Number(v) <= 4096);
  if (m === null || !ok(m[1]) || !ok(m[2])) throw new InvalidArgumentError('Expected a size in pixels from 1 to 4096: 224, or HxW such as 224x320.');
  return m[2] === undefined ? Number(m[1]) : [Number(m[1]), Number(m[2])];
}

function collect(value: string, prev: string[] = []): string[] {
  return [...prev, value];
}

/** Runs a command body, turning bad-input errors (DataError, RangeError) into exit code 2. */
async function guarded(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof Error && (e.name === 'DataError' || e instanceof RangeError)) throw new UsageError(e.message);
    throw e;
  }
}

/** A progress display: a bar on a terminal, a line per 10% elsewhere. */
async function progress(io: CliIO, enabled: boolean, unit: 'bytes' | 'images'): Promise<{ update(label: string, done: number, total: number | null): void; stop(): void }> {
  if (!enabled) return { update: () => {}, stop: () => {} };
  if (process.stderr.isTTY) {
    const { default: cliProgress } = await import('cli-progress');
    const fmt = unit === 'bytes'
      ? '{label} [{bar}] {percentage}% | {doneMB}/{totalMB} MB | ETA {eta_formatted}'
      : '{label} [{bar}] {percentage}% | {value}/{total} images | ETA {eta_formatted}';
    const bar = new cliProgress.SingleBar({ format: fmt, stream: process.stderr, hideCursor: true, etaBuffer: 50 }, cliProgress.Presets.shades_classic);
    let current = '';
    return {
      update(label, done, total) {
        const t = total ?? Math.max(done, 1);
        const payload = { label, doneMB: (done / 1e6).toFixed(1), totalMB: (t / 1e6).toFixed(1) };
        if (label !== current) {
          if (current !== '') bar.stop();
          bar.start(t, done, payload);
          current = label;
        } else {
          bar.setTotal(t);
          bar.update(done, payload);
        }
      },
      stop: () => bar.stop(),
    };
  }
  const last = new Map<string, number>();
  return {
    update(label, done, total) {
      if (total === null || total === 0) return;
      const tenth = Math.floor((10 * done) / total);
      if ((last.get(label) ?? -1) < tenth) {
        last.set(label, tenth);
        io.err(`${label}: ${tenth * 10}%${unit === 'bytes' ? ` of ${(total / 1e6).toFixed(1)} MB` : ` of ${total} images`}\n`);
      }
    },
    stop: () => {},
  };
}

// ------------------------------------------------------------------------------------ pull

interface PullFlags {
  dataDir?: string;
  cache?: string;
  baseUrl?: string;
  sha256?: string[];
  retries?: number;
  progress: boolean;
  json?: boolean;
}

const PULL_HELP = `
Datasets:
  cifar10      CIFAR-10, binary version (cifar-10-binary.tar.gz, 170 MB) from
               https://www.cs.toronto.edu/~kriz/ → <cache>/datasets/cifar10/cifar-10-batches-bin
  oxford-pets  Oxford-IIIT Pet (images.tar.gz 792 MB + annotations.tar.gz 19 MB) from
               https://thor.robots.ox.ac.uk/datasets/pets/ (mirror: www.robots.ox.ac.uk/~vgg/data/pets/data/)
               → <cache>/datasets/oxford-iiit-pet

Each archive is checked against a SHA-256 built into saln before it is unpacked; a mismatch
deletes the download and fails. An interrupted download is resumed (HTTP Range) by running the
command again. Archives stay in <cache>/downloads. The cache is $SALN_CACHE, default ~/.cache/saln.

--data-dir DIR uses a local copy instead of the network: DIR either holds the archives (same
file names; they are verified, then unpacked into the cache) or is an already unpacked dataset
(used in place, nothing copied).

--sha256 replaces a built-in checksum (for a re-issued archive or a mirror with other bytes):
--sha256 <hex> for a one-archive dataset, or --sha256 <file>=<hex>, repeatable.

Examples:
  $ saln data pull cifar10
  $ saln data pull oxford-pets --data-dir ~/Downloads
  $ SALN_CACHE=/data/saln saln data pull cifar10 --json
`;

function pullCommand(io: CliIO): Command {
  return new Command('pull')
    .summary('download (or copy), verify and unpack a dataset into the cache')
    .description('Fetch a known dataset from its official address, verify its SHA-256, resume partial downloads, and unpack it into the cache.')
    .argument('<dataset>', 'cifar10 or oxford-pets')
    .option('--data-dir <dir>', 'use a local copy (archives or unpacked), no network')
    .option('--cache <dir>', 'cache root (default: $SALN_CACHE or ~/.cache/saln)')
    .option('--base-url <url>', 'fetch the archives from <url>/<file> instead (a mirror)')
    .option('--sha256 <[file=]hex>', 'expected SHA-256, replacing the built-in one (repeatable)', collect)
    .option('--retries <n>', 'tries per address, each resuming the last (default 4)', positiveInt)
    .option('--no-progress', 'no progress display')
    .option('--json', 'print one JSON line: {"dataset","kind","root","archives":[...]}')
    .addHelpText('after', PULL_HELP)
    .action(async (dataset: string, flags: PullFlags) => guarded(async () => {
      const { pullDataset, knownDataset } = await import('../../data/pull.js');
      const ds = knownDataset(dataset);
      const sha: Record<string, string> = {};
      for (const s of flags.sha256 ?? []) {
        const eq = s.indexOf('=');
        const hex = eq >= 0 ? s.slice(eq + 1) : s;
        if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new UsageError(`--sha256 ${s}: expected 64 hex digits${eq >= 0 ? ' after the =' : ''}`, { field: '--sha256' });
        if (eq >= 0) sha[s.slice(0, eq)] = hex;
        else if (ds.archives.length === 1) sha[ds.archives[0]!.file] = s;
        else throw new UsageError(`${dataset} has ${ds.archives.length} archives: give --sha256 as <file>=<hex> (${ds.archives.map((a) => a.file).join(', ')})`);
      }
      const bar = await progress(io, flags.progress && !flags.json, 'bytes');
      let r;
      try {
        r = await pullDataset(dataset, {
          cache: flags.cache, dataDir: flags.dataDir, baseUrl: flags.baseUrl, sha256: sha, retries: flags.retries,
          onProgress: (file, got, total) => bar.update(file, got, total),
          onLog: (m) => { if (!flags.json) io.err(`${m}\n`); },
        });
      } finally {
        bar.stop();
      }
      if (flags.json) {
        io.out(`${JSON.stringify(r)}\n`);
        return;
      }
      io.out(`${r.dataset} is ready: ${r.root}\n  use it with: saln data prepare ${r.kind} ${r.root}\n`);
    }));
}

// ------------------------------------------------------------------------------------ prepare / info

async function resolveDataset(kind: KindArg, root: string | undefined, cache: string | undefined): Promise<{ kind: import('../../data/sources.js').DatasetKind; root: string }> {
  const { existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { findCifar10BinDir } = await import('../../data/sources.js');
  if (kind === 'cifar10' || kind === 'oxford-pets') {
    const { datasetDir, knownDataset } = await import('../../data/pull.js');
    const ds = knownDataset(kind);
    if (root === undefined) {
      const dir = datasetDir(kind, cache);
      const r = ds.rootIn(dir);
      if (r === null) throw new UsageError(`${kind} is not in the cache (${dir}): run \`saln data pull ${kind}\` first, or give its folder`);
      return { kind: ds.kind, root: r };
    }
    if (kind === 'cifar10') return { kind: findCifar10BinDir(root) !== null ? 'cifar10-bin' : existsSync(join(root, 'train')) ? 'cifar10-folder' : 'cifar10-bin', root };
    return { kind: 'oxford-pets', root };
  }
  if (root === undefined) throw new UsageError(`the ${kind} kind needs the dataset's folder: saln data prepare ${kind} <root>`);
  return { kind, root };
}

interface PrepareFlags {
  size?: number | [number, number];
  resize: 'squash' | 'crop';
  split?: string[];
  strict?: boolean;
  verify: 'stat' | 'content';
  cache?: string;
  force?: boolean;
  limit?: number;
  maxImageBytes?: number;
  progress: boolean;
  json?: boolean;
}

const KIND_HELP = `
Kinds:
  cifar10          the pulled CIFAR-10 (or, with a root, either CIFAR-10 form found there)
  oxford-pets      Oxford-IIIT Pet: images/*.jpg + annotations/{trainval,test}.txt (the pulled one without a root)
  cifar10-bin      data_batch_1..5.bin + test_batch.bin (in root or root/cifar-10-batches-bin)
  cifar10-folder   root/{train,test}/<class>/*.jpg with CIFAR-10's class names (labels in CIFAR order)
  folder           root/<class>/*.{jpg,jpeg,png,webp}, classes sorted by name; train/ test/ val/
                   subfolders are the splits when present
`;

const PREPARE_HELP = `${KIND_HELP}
Each split is decoded once (sharp/libvips), resized to --size (default 32 for CIFAR-10, 224 for
Oxford-IIIT Pet) and written as uint8 NHWC to <cache>/prepared/, with a JSON index (ids, labels,
skipped files). The cache is keyed by the source files (size + mtime, or bytes with --verify
content), the size and the resize policy: a changed source is rebuilt, an unchanged one reused.

A corrupt or truncated image is skipped with a warning naming it (the count is printed);
--strict fails on it instead, and on empty class folders and missing listed images. So is
a file that is not a regular file (a link to a device or a FIFO), one over the size limit
(--max-image-bytes, default $SALN_MAX_IMAGE_BYTES or 64M), and one whose name is not
valid UTF-8. Temporary files left by an interrupted prepare are removed at the next start.

Examples:
  $ saln data prepare cifar10-folder ../shared/datasets/cifar10-jpg
  $ saln data prepare oxford-pets ../shared/datasets/oxford-iiit-pet-mini --size 224 --json
  $ saln data prepare folder ~/photos --size 128 --resize crop --strict
`;

function prepareCommand(io: CliIO): Command {
  return new Command('prepare')
    .summary('decode a dataset once into the prepared uint8 cache')
    .description('Decode and resize every image of a dataset\'s splits into the prepared cache, reusing it when the source is unchanged.')
    .argument('<kind>', KINDS.join(' | '))
    .argument('[root]', 'the dataset\'s folder (default for cifar10 / oxford-pets: the pulled copy)')
    .option('--size <px>', 'cache image size: 224 or HxW (default 32 for CIFAR-10, 224 for Pets)', sizeArg)
    .addOption(new Option('--resize <policy>', 'squash: scale each axis (ignore aspect); crop: cover then centre-crop').choices(['squash', 'crop']).default('squash'))
    .option('--split <name>', 'only this split (train, val, test or all; repeatable)', collect)
    .option('--strict', 'fail on a corrupt image, an empty class folder or a missing listed image')
    .addOption(new Option('--verify <how>', 'what the cache key reads of each source file').choices(['stat', 'content']).default('stat'))
    .option('--cache <dir>', 'cache root (default: $SALN_CACHE or ~/.cache/saln)')
    .option('--force', 'rebuild even when a valid cache exists')
    .option('--limit <n>', 'only the first n samples of each split (smoke runs)', positiveInt)
    .option('--max-image-bytes <size>', 'skip image files larger than this (default $SALN_MAX_IMAGE_BYTES or 64M)', byteSize)
    .option('--no-progress', 'no progress display')
    .option('--json', 'print one JSON line: {"kind","root","splits":{...}}')
    .addHelpText('after', PREPARE_HELP)
    .action(async (kindArg: string, rootArg: string | undefined, flags: PrepareFlags) => guarded(async () => {
      if (!(KINDS as readonly string[]).includes(kindArg)) throw new UsageError(`unknown dataset kind "${kindArg}" (expected ${KINDS.join(', ')})`);
      const { join } = await import('node:path');
      const { openDataset } = await import('../../data/sources.js');
      const { prepareSplit } = await import('../../data/cache.js');
      const { defaultSize } = await import('../../data/load.js');
      const { cacheRoot } = await import('../../data/paths.js');
      const { kind, root } = await resolveDataset(kindArg as KindArg, rootArg, flags.cache);
      const size = flags.size ?? defaultSize(kind);
      if (size === null) throw new UsageError('a folder dataset needs --size (e.g. --size 224)');
      const warnings: string[] = [];
      const warn = (m: string): void => {
        warnings.push(m);
        if (!flags.json) io.err(`saln: warning: ${m}\n`);
      };
      const src = openDataset(kind, root, { strict: flags.strict, warn });
      const splits = flags.split ?? Object.keys(src.splits);
      for (const s of splits) {
        if (!(s in src.splits)) throw new UsageError(`${root} has no ${s} split (it has ${Object.keys(src.splits).join(', ')})`);
      }
      const bar = await progress(io, flags.progress && !flags.json, 'images');
      const out: Record<string, unknown> = {};
      try {
        for (const split of splits as ('train' | 'val' | 'test' | 'all')[]) {
          const t0 = performance.now();
          const set = await prepareSplit(src, split, {
            size, resize: flags.resize, strict: flags.strict, verify: flags.verify, force: flags.force, limit: flags.limit, inMemory: false, maxImageBytes: flags.maxImageBytes,
            cacheDir: join(flags.cache ?? cacheRoot(), 'prepared'), warn, onProgress: (d, t) => bar.update(`prepare ${split}`, d, t),
          });
          const seconds = (performance.now() - t0) / 1000;
          out[split] = {
            images: set.length, skipped: set.skipped.length, from_cache: set.fromCache, seconds: Number(seconds.toFixed(3)),
            height: set.height, width: set.width, index: set.indexPath, data: set.dataPath,
          };
          await set.close();
        }
      } finally {
        bar.stop();
      }
      if (flags.json) {
        io.out(`${JSON.stringify({ kind, root: src.root, classes: src.classes.length, splits: out, warnings })}\n`);
        return;
      }
      const lines = [`Prepared ${kind} ${src.root} (${src.classes.length} classes)`];
      for (const [split, v] of Object.entries(out) as [string, { images: number; skipped: number; from_cache: boolean; seconds: number; height: number; width: number; data: string }][]) {
        lines.push(`  ${split.padEnd(5)} ${String(v.images).padStart(7)} images ${v.height}x${v.width}${v.skipped ? `, ${v.skipped} skipped` : ''}  ${v.from_cache ? 'cached' : `built in ${v.seconds.toFixed(1)} s`}  ${v.data}`);
      }
      io.out(`${lines.join('\n')}\n`);
    }));
}

function infoCommand(io: CliIO): Command {
  return new Command('info')
    .summary('list a dataset\'s classes and split sizes, without decoding')
    .description('List a dataset\'s classes and per-split, per-class counts, and report layout problems. Nothing is decoded.')
    .argument('<kind>', KINDS.join(' | '))
    .argument('[root]', 'the dataset\'s folder (default for cifar10 / oxford-pets: the pulled copy)')
    .option('--strict', 'fail on layout problems instead of warning')
    .option('--cache <dir>', 'cache root, for the pulled datasets')
    .option('--json', 'print one JSON line: {"kind","root","classes":[...],"splits":{"train":{"total","per_class"}...}}')
    .addHelpText('after', `${KIND_HELP}\nExamples:\n  $ saln data info cifar10-folder ../shared/datasets/cifar10-jpg\n  $ saln data info oxford-pets --json\n`)
    .action(async (kindArg: string, rootArg: string | undefined, flags: { strict?: boolean; cache?: string; json?: boolean }) => guarded(async () => {
      if (!(KINDS as readonly string[]).includes(kindArg)) throw new UsageError(`unknown dataset kind "${kindArg}" (expected ${KINDS.join(', ')})`);
      const { openDataset, classCounts } = await import('../../data/sources.js');
      const { kind, root } = await resolveDataset(kindArg as KindArg, rootArg, flags.cache);
      const warnings: string[] = [];
      const src = openDataset(kind, root, { strict: flags.strict, warn: (m) => warnings.push(m) });
      const splits: Record<string, { total: number; per_class: number[] }> = {};
      for (const [name, samples] of Object.entries(src.splits)) splits[name] = { total: samples!.length, per_class: classCounts(samples!, src.classes.length) };
      if (flags.json) {
        io.out(`${JSON.stringify({ kind, root: src.root, classes: src.classes, splits, ignored_files: src.ignoredFiles, missing: src.missing, warnings })}\n`);
        return;
      }
      const lines = [`${kind} at ${src.root}: ${src.classes.length} classes`];
      for (const [name, s] of Object.entries(splits)) {
        const per = s.per_class;
        const same = per.every((c) => c === per[0]);
        lines.push(`  ${name.padEnd(5)} ${String(s.total).padStart(7)} images, ${same ? `${per[0]} per class` : `per class ${Math.min(...per)}–${Math.max(...per)}`}`);
      }
      lines.push(`  classes: ${src.classes.length > 12 ? `${src.classes.slice(0, 12).join(', ')}, … (${src.classes.length - 12} more)` : src.classes.join(', ')}`);
      if (src.ignoredFiles) lines.push(`  ignored: ${src.ignoredFiles} file(s) that are not listed images`);
      for (const w of warnings) lines.push(`  warning: ${w}`);
      io.out(`${lines.join('\n')}\n`);
    }));
}

/** The `data` command; its subcommands inherit the settings main.ts copies onto it. */
class DataCommand extends Command {
  override copyInheritedSettings(source: Command): this {
    super.copyInheritedSettings(source);
    for (const c of this.commands) c.copyInheritedSettings(this);
    return this;
  }
}

export function dataCommand(io: CliIO): Command {
  const data = new DataCommand('data')
    .summary('get datasets (CIFAR-10, Oxford-IIIT Pet, image folders), prepare and inspect them')
    .description('Datasets: download and verify them (pull), decode them once into the prepared cache (prepare), or list them (info).')
    .addHelpText('after', `
Examples:
  $ saln data pull cifar10
  $ saln data info cifar10
  $ saln data prepare oxford-pets ../shared/datasets/oxford-iiit-pet-mini --size 224
`);
  data.addCommand(pullCommand(io));
  data.addCommand(prepareCommand(io));
  data.addCommand(infoCommand(io));
  return data;
}
