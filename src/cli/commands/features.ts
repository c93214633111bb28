/**
 * `saln features`: pooled penultimate features of every sample, computed once into the cache.
 *   saln features extract --model resnet50-keras --dataset npy:images.npy --split train --size 224
 *   saln features info <cache file>
 */
import { Command, Option } from 'commander';
import { device, positiveInt, threads } from '../args.js';
import { UsageError, type CliIO } from '../io.js';
import { CommandGroup } from './models.js';

interface ExtractFlags {
  model: string;
  dataset: string;
  split: string;
  size?: number;
  batch: number;
  ids?: string;
  threads?: number;
  cacheDir?: string;
  out?: string;
  force?: boolean;
  json?: boolean;
  progress: boolean;
  device?: string;
  precision: 'auto' | 'fp32' | 'bf16';
}

const EXTRACT_HELP = `
What it does: runs the model in eval mode, without gradients or augmentation, on every
sample of the split, and stores the global-average-pooled penultimate features as
<cache>/features/<dataset>-<split>-<model>-<hash>.safetensors ([N, D] float32, sample
ids in the metadata), keyed by dataset, split, model, preprocessing and size. The
model's own input normalization is applied (see \`saln models list\`).

--precision bf16 runs the model under bfloat16 autocast with channels-last
activations (the cache still stores float32; features differ from fp32 ones by
about 1e-2 relative, so they are cached under their own key). auto picks bf16
where the hardware computes it natively, fp32 elsewhere.

Interrupting (Ctrl-C) keeps every finished chunk; running the same command again
resumes. The cache file appears only when complete (written atomically). A complete
cache is reused unless --force.

Datasets (--dataset):
  cifar10, oxford-pets        the copies pulled with \`saln data pull\`
  KIND:ROOT                   a dataset folder, KIND one of cifar10, oxford-pets,
                              cifar10-bin, cifar10-folder, folder (see \`saln data prepare --help\`)
  npy:FILE                    a C-order .npy of RGB images [N, H, W, 3] (uint8 or float,
                              0..255); sample ids are the row numbers, or the lines of --ids FILE
Named and folder datasets go through saln's prepared image cache: every image of the
split is decoded once and resized to --size (squash, as \`saln data prepare\`); sample
ids are the data module's stable ids. --split is the dataset's own split (train, test,
val where the dataset has one, all for a folder without splits). npy images are
resized to --size with bilinear interpolation (half-pixel centers).

Examples:
  $ saln models pull resnet50-keras
  $ saln features extract --model resnet50-keras --dataset cifar10-folder:../shared/datasets/cifar10-jpg --split train --size 224
  $ saln features extract --model resnet50-keras --dataset oxford-pets --split test
  $ saln features extract --model mobilenet-v1-0.75 --dataset npy:x.npy --split test --json
  $ saln features extract --model resnet50-keras --dataset oxford-pets --split test --precision auto
`;

export function featuresCommand(io: CliIO): Command {
  const cmd = new CommandGroup('features').summary('extract and inspect cached per-sample features').description('Per-sample features from a pretrained model, cached on disk.');
  cmd.command('extract')
    .description('Compute the pooled features of every sample of a split into the feature cache (resumable).')
    .requiredOption('-m, --model <name>', 'a model from `saln models list`, e.g. resnet50-keras')
    .requiredOption('-d, --dataset <spec>', 'the samples: cifar10, oxford-pets, KIND:ROOT or npy:FILE (see below)')
    .requiredOption('-s, --split <name>', 'split name, part of the cache key (e.g. train, test)')
    .option('--size <px>', 'input size in pixels (default: the model\'s, 224)', positiveInt)
    .option('-b, --batch <n>', 'batch size', positiveInt, 32)
    .option('--ids <file>', 'npy datasets: one sample id per line, in row order')
    .option('--threads <n>', 'intra-op threads for the engine (default: libtorch\'s; at most 4 per core)', threads)
    .option('--cache-dir <dir>', 'cache folder (default $SALN_CACHE or ~/.cache/saln)')
    .option('-o, --out <file>', 'write the cache here instead of <cache>/features/…')
    .addOption(new Option('--device <device>', 'cpu, cuda, cuda:1').default('cpu').argParser(device))
    .addOption(new Option('--precision <p>', 'fp32, bf16 (bfloat16 autocast, channels-last), or auto: bf16 where the device computes it natively (AMX/AVX512-BF16 CPUs, GPUs of compute capability 8.0+); part of the cache key')
      .choices(['auto', 'fp32', 'bf16']).default('fp32'))
    .option('--force', 'recompute even if a complete cache exists')
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print one JSON line with the result')
    .addHelpText('after', EXTRACT_HELP)
    .action(async (flags: ExtractFlags) => extract(flags, io));
  cmd.command('info')
    .argument('<file>', 'a feature cache file')
    .description('Show what a feature cache holds.')
    .option('--json', 'print one JSON line')
    .action(async (file: string, flags: { json?: boolean }) => {
      const { FeatureCache } = await import('../../features/cache.js');
      const c = FeatureCache.open(file);
      try {
        const info = { path: file, rows: c.rows, dim: c.dim, key: c.key, created: c.metadata.created, first_ids: c.ids.slice(0, 5) };
        io.out(flags.json ? `${JSON.stringify(info)}\n` : `${file}\n  ${c.rows} samples x ${c.dim} features\n  key ${JSON.stringify(c.key)}\n  created ${c.metadata.created ?? '?'}\n`);
      } finally {
        c.dispose();
      }
    });
  return cmd;
}

interface SampleSource {
  /** Part of the cache key: names the data (and its content). */
  dataset: string;
  extra: Record<string, unknown>;
  n: number;
  /** Batches of RGB 0..255 images [B, 3, size, size] with their ids, skipping batches that are done. */
  batches(done: ReadonlySet<string>): AsyncIterable<{ ids: string[]; x: import('../../tensor/index.js').Tensor }>;
  close(): Promise<void>;
}

const KINDS = ['cifar10', 'oxford-pets', 'cifar10-bin', 'cifar10-folder', 'folder'] as const;

/** An .npy of RGB images [N, H, W, 3], resized here with bilinear interpolation. */
async function npySource(file: string, flags: ExtractFlags, size: number): Promise<SampleSource> {
  const { readRegularText } = await import('../../io/files.js');
  const { basename } = await import('node:path');
  const { createHash } = await import('node:crypto');
  const { readNpyArray } = await import('../../io/npy.js');
  const { fromBytes, tidy } = await import('../../tensor/index.js');
  const { F } = await import('../../nn/index.js');
  const arr = readNpyArray(file);
  if (arr.shape.length !== 4 || arr.shape[3] !== 3) throw new UsageError(`${file}: expected RGB images [N, H, W, 3], got shape [${arr.shape.join(', ')}]`);
  const n = arr.shape[0]!;
  let ids = Array.from({ length: n }, (_, i) => String(i));
  if (flags.ids) {
    ids = readRegularText(flags.ids, { what: '--ids file', maxBytes: 256 * 1024 * 1024 }).split('\n').map((l) => l.trim()).filter((l) => l !== '');
    if (ids.length !== n) throw new UsageError(`${flags.ids} has ${ids.length} ids but ${file} has ${n} images`);
  }
  const rowBytes = arr.data.length / Math.max(n, 1);
  const batch = flags.batch;
  return {
    dataset: `npy:${basename(file)}`,
    extra: { data_sha256: createHash('sha256').update(arr.data).digest('hex'), ids_sha256: createHash('sha256').update(ids.join('\n')).digest('hex'), resize: 'bilinear-half-pixel' },
    n,
    async *batches(done) {
      for (let s = 0; s < n; s += batch) {
        const e = Math.min(n, s + batch);
        const bIds = ids.slice(s, e);
        if (bIds.every((id) => done.has(id))) continue;
        const x = tidy(() => {
          const raw = fromBytes(arr.data.subarray(s * rowBytes, e * rowBytes), [e - s, ...arr.shape.slice(1)], arr.dtype);
          const t = raw.permute(0, 3, 1, 2).float().contiguous();
          return t.shape[2] !== size || t.shape[3] !== size ? F.interpolate(t, [size, size], { mode: 'bilinear' }) : t;
        });
        yield { ids: bIds, x };
      }
    },
    close: async () => {},
  };
}

/** A dataset of saln's data module, through its prepared uint8 cache at the target size. */
async function dataSource(spec: string, flags: ExtractFlags, size: number, io: CliIO): Promise<SampleSource> {
  const { basename, join } = await import('node:path');
  const data = await import('../../data/index.js');
  const colon = spec.indexOf(':');
  const kindArg = colon < 0 ? spec : spec.slice(0, colon);
  let root = colon < 0 ? undefined : spec.slice(colon + 1);
  if (!(KINDS as readonly string[]).includes(kindArg)) {
    throw new UsageError(`unknown dataset ${JSON.stringify(spec)}: expected cifar10, oxford-pets, KIND:ROOT (KIND one of ${KINDS.join(', ')}) or npy:FILE`);
  }
  let kind: import('../../data/index.js').DatasetKind;
  const cache = flags.cacheDir;
  if (kindArg === 'cifar10' || kindArg === 'oxford-pets') {
    const ds = data.knownDataset(kindArg);
    if (root === undefined) {
      const dir = data.datasetDir(kindArg, cache);
      const r = ds.rootIn(dir);
      if (r === null) throw new UsageError(`${kindArg} is not in the cache (${dir}): run \`saln data pull ${kindArg}\` first, or give its folder as ${kindArg}:ROOT`);
      root = r;
      kind = ds.kind;
    } else {
      kind = kindArg === 'oxford-pets' ? 'oxford-pets' : data.findCifar10BinDir(root) !== null ? 'cifar10-bin' : 'cifar10-folder';
    }
  } else {
    if (!root) throw new UsageError(`dataset ${kindArg} needs its folder: --dataset ${kindArg}:ROOT`);
    kind = kindArg as typeof kind;
  }
  const src = data.openDataset(kind, root, { warn: (m: string) => io.err(`saln: warning: ${m}\n`) });
  const split = flags.split as import('../../data/index.js').SplitName;
  if (!(split in src.splits)) throw new UsageError(`${src.root} has no ${flags.split} split (it has ${Object.keys(src.splits).join(', ')})`);
  const set = await data.prepareSplit(src, split, {
    size, cacheDir: join(cache ?? data.cacheRoot(), 'prepared'), inMemory: 'auto', warn: (m: string) => io.err(`saln: warning: ${m}\n`),
  });
  const n = set.length;
  const batch = flags.batch;
  return {
    dataset: `${kind}:${basename(src.root)}`,
    extra: { prepared: set.index.contentKey ?? set.index.key, resize: set.index.resize },
    n,
    async *batches(done) {
      for (let s = 0; s < n; s += batch) {
        const e = Math.min(n, s + batch);
        const bIds = set.ids.slice(s, e);
        if (bIds.every((id) => done.has(id))) continue;
        const raw = await set.readBatch(Int32Array.from({ length: e - s }, (_, i) => s + i));
        const x = raw.permute(0, 3, 1, 2).float().contiguous();
        raw.dispose();
        yield { ids: bIds, x };
      }
    },
    close: () => set.close(),
  };
}

/**
 * --out names the cache file: a folder there, or a file that is not a feature cache, is refused
 * rather than overwritten (with or without --force).
 */
async function checkOut(out: string): Promise<void> {
  const { existsSync, statSync } = await import('node:fs');
  if (!existsSync(out)) return;
  if (!statSync(out).isFile()) throw new UsageError(`--out ${out} is not a file (it names the feature cache file to write, e.g. ${out.replace(/\/+$/, '')}/features.safetensors)`, { path: out, field: '--out' });
  const { FeatureCache } = await import('../../features/cache.js');
  try {
    FeatureCache.open(out).dispose();
  } catch (e) {
    throw new UsageError(`--out ${out} exists and is not a feature cache (${(e as Error).message}); refusing to overwrite it`, { path: out, field: '--out' });
  }
}

async function extract(flags: ExtractFlags, io: CliIO): Promise<void> {
  const { join } = await import('node:path');
  const { ZOO, cacheDir, ensureModel } = await import('../../models/index.js');
  const { extractFeatures } = await import('../../features/index.js');
  const { isCudaAvailable, setNumThreads } = await import('../../tensor/index.js');

  const entry = ZOO[flags.model];
  if (!entry) throw new UsageError(`unknown model ${JSON.stringify(flags.model)}; known models: ${Object.keys(ZOO).join(', ')}`);
  if (flags.out !== undefined) await checkOut(flags.out);
  if (flags.device !== undefined && flags.device !== 'cpu' && !isCudaAvailable()) {
    throw new UsageError(`--device ${flags.device}: CUDA is not available here (this engine sees no GPU); use --device cpu`, { field: '--device' });
  }
  if (flags.threads !== undefined) setNumThreads(flags.threads);
  const size = flags.size ?? entry.inputSize;
  const npy = /^npy:(.+)$/.exec(flags.dataset);
  const source = npy ? await npySource(npy[1]!, flags, size) : await dataSource(flags.dataset, flags, size, io);
  const key = { dataset: source.dataset, split: flags.split, model: entry.name, preprocess: entry.preprocess, size, extra: source.extra };
  // First use: the weights are fetched here (progress bar on a terminal), or the error says how.
  const zooOpts = { cacheDir: flags.cacheDir, log: (l: string) => io.err(`${l}\n`), progress: flags.progress };
  await ensureModel(entry.name, zooOpts);
  const model = await entry.load(zooOpts);
  const dev = flags.device ?? 'cpu';
  if (dev !== 'cpu') model.to(dev);
  async function* onDevice(done: ReadonlySet<string>) {
    for await (const b of source.batches(done)) {
      if (dev === 'cpu') yield b;
      else {
        const x = b.x.to({ device: dev });
        b.x.dispose();
        yield { ids: b.ids, x };
      }
    }
  }
  const ac = new AbortController();
  const onSigint = (): void => {
    io.err('\ninterrupted: saving what is done (run the same command again to resume) ...\n');
    ac.abort();
  };
  process.once('SIGINT', onSigint);
  const t0 = performance.now();
  let res;
  try {
    res = await extractFeatures({
      model,
      source: onDevice,
      key,
      path: flags.out,
      cacheDir: flags.out ? undefined : join(cacheDir(flags.cacheDir), 'features'),
      preprocess: entry.preprocess,
      total: source.n,
      progress: flags.progress,
      signal: ac.signal,
      force: flags.force,
      precision: flags.precision,
    });
  } finally {
    process.removeListener('SIGINT', onSigint);
    await source.close();
  }
  const s = (performance.now() - t0) / 1000;
  if (flags.json) {
    io.out(`${JSON.stringify({ path: res.path, rows: res.rows, dim: res.dim, precision: res.precision, computed: res.computed, resumed: res.resumed, cached: res.cached, seconds: Number(s.toFixed(3)) })}\n`);
    return;
  }
  io.out(res.cached
    ? `already cached: ${res.path} (${res.rows} x ${res.dim})\n`
    : `${res.path}: ${res.rows} x ${res.dim} (${res.computed} computed${res.resumed ? `, ${res.resumed} resumed` : ''}) in ${s.toFixed(1)} s\n`);
}
