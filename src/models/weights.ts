/**
 * Pretrained weights in safetensors, from a local path or a URL (downloaded once into the cache,
 * with a SHA-256 check and a progress bar), with torchvision or timm key names.
 *
 *   const m = resnet18({ numClasses: 37 });
 *   await loadWeights(m, 'hf://timm/resnet18.tv_in1k', { head: 'skip' });   // backbone only
 *   await loadWeights(m, '/data/resnet18.safetensors');
 *
 * Key names: torchvision's and timm's ResNets share their state-dict keys (`conv1.weight`,
 * `layer1.0.bn1.running_mean`, `fc.bias`). What differs between checkpoints is packaging: a
 * `module.` (DataParallel) or `model.` prefix, and some timm exports leave out BatchNorm's
 * `num_batches_tracked`. normalizeKeys() handles both.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { EngineError } from '../binding/errors.js';
import { cleanStaleTemps } from '../io/atomic.js';
import { readRegularText, regularFileSize } from '../io/files.js';
import { redirectProblem } from '../io/redirects.js';
import { loadSafetensors } from '../io/safetensors.js';
import type { Module, StateDict } from '../nn/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { cacheDir } from './cache.js';
import { startProgress, type ProgressSetting } from './progress.js';

export type Naming = 'torchvision' | 'timm' | 'auto';

/** Strips wrapper prefixes (`module.`, `model.`) that every key shares. */
export function normalizeKeys(sd: StateDict, naming: Naming = 'auto'): StateDict {
  if (naming !== 'torchvision' && naming !== 'timm' && naming !== 'auto') {
    throw new EngineError(`Expected 'torchvision', 'timm' or 'auto' for naming but received ${JSON.stringify(naming)}`);
  }
  let out = sd;
  for (const prefix of ['module.', 'model.']) {
    const keys = [...out.keys()];
    if (keys.length && keys.every((k) => k.startsWith(prefix))) out = new Map([...out].map(([k, v]) => [k.slice(prefix.length), v]));
  }
  return out;
}

export interface LoadCheckedOptions {
  /** Keys of the model to leave as they are (not loaded, not reported missing), e.g. the head. */
  skip?: (key: string) => boolean;
}

/**
 * Loads sd into model strictly: every parameter and buffer must be in sd, except BatchNorm's
 * `num_batches_tracked` (often absent from exported checkpoints) and skipped keys; no key of sd
 * may be unknown (skipped keys in sd are ignored). Shapes must match.
 */
export function loadStateDictChecked(model: Module, sd: StateDict, o: LoadCheckedOptions = {}): { missing: string[]; unexpected: string[] } {
  const own = model.stateDict();
  const skip = o.skip ?? (() => false);
  const src: StateDict = new Map([...sd].filter(([k]) => !skip(k)));
  const missing = [...own.keys()].filter((k) => !skip(k) && !src.has(k) && !k.endsWith('num_batches_tracked'));
  const unexpected = [...src.keys()].filter((k) => !own.has(k));
  if (missing.length || unexpected.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing keys: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ` (and ${missing.length - 20} more)` : ''}`);
    if (unexpected.length) parts.push(`unexpected keys: ${unexpected.slice(0, 20).join(', ')}${unexpected.length > 20 ? ` (and ${unexpected.length - 20} more)` : ''}`);
    throw new EngineError(`loading weights: ${parts.join('; ')}`);
  }
  for (const [k, t] of src) {
    const dst = own.get(k)!;
    if (t.shape.join(',') !== dst.shape.join(',')) {
      const hint = k.startsWith('fc.') ? " (a different number of classes? load with head: 'skip')" : '';
      throw new EngineError(`loading weights: size mismatch for ${k}: the file has [${t.shape.join(', ')}], the model has [${dst.shape.join(', ')}]${hint}`);
    }
  }
  return model.loadStateDict(src, { strict: false });
}

// ---- downloads

export interface FetchOptions {
  /** Expected SHA-256 (hex). Without it, the hash of the first download is recorded and checked on reuse. */
  sha256?: string;
  cacheDir?: string;
  progress?: ProgressSetting;
  /** File name in the cache (default: the URL's last path segment). */
  fileName?: string;
  /** Hosts a redirect may lead to besides the URL's own (default: Hugging Face's download hosts). */
  allowedHosts?: readonly string[];
}

export interface Fetched {
  path: string;
  sha256: string;
  /** False when the cached copy was used. */
  downloaded: boolean;
}

/** Where huggingface.co's resolve URLs redirect to (its LFS and Xet storage). */
export const HF_HOSTS: readonly string[] = ['huggingface.co', '*.huggingface.co', '*.hf.co'];

/**
 * hf://owner/repo[@revision][/file] → the Hugging Face resolve URL (file defaults to
 * model.safetensors, revision to main; pin a commit so a pinned hash stays valid).
 */
export function resolveHfUrl(spec: string): string {
  const m = /^hf:\/\/([^/@]+\/[^/@]+)(?:@([\w.-]+))?(?:\/(.+))?$/.exec(spec);
  if (!m) return spec;
  return `https://huggingface.co/${m[1]}/resolve/${m[2] ?? 'main'}/${m[3] ?? 'model.safetensors'}`;
}

/** The SHA-256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  regularFileSize(path); // a FIFO or a device would never end
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function checkSha(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const v = s.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(v)) throw new EngineError(`Expected 64 hex digits for sha256 but received ${JSON.stringify(s)}`);
  return v;
}

function parseHttpUrl(url: string, href: string): URL {
  let u: URL;
  try {
    u = new URL(href);
  } catch {
    throw new EngineError(`Expected an http(s) URL but received ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new EngineError(`Expected an http(s) URL but received ${JSON.stringify(url)}`);
  return u;
}

/** A download that could not happen (no network, refused, HTTP error): what ensureModel reports as "offline". */
export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** GET href, following at most 5 redirects, each checked by redirectProblem (https only, listed hosts). */
async function fetchChecked(href: string, allowedHosts: readonly string[]): Promise<Response> {
  const origin = new URL(href);
  let at = origin;
  for (let hop = 0; hop <= 5; hop++) {
    let res: Response;
    try {
      res = await fetch(at, { redirect: 'manual' });
    } catch (e) {
      const cause = (e as { cause?: Error }).cause?.message ?? (e as Error).message;
      throw new DownloadError(`cannot download ${href}: ${cause}`);
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location !== null) {
      await res.body?.cancel();
      const to = new URL(location, at);
      const refused = redirectProblem(origin, to, allowedHosts);
      if (refused !== null) throw new DownloadError(`cannot download ${href}: ${refused}`);
      at = to;
      continue;
    }
    return res;
  }
  throw new DownloadError(`cannot download ${href}: more than 5 redirects`);
}

export interface VerifiedDownload {
  /** The final file: written only once complete and (when sha256 is given) matching it. */
  dest: string;
  sha256?: string;
  progress?: ProgressSetting;
  label: string;
  allowedHosts: readonly string[];
}

/**
 * Downloads href into dest through a temporary file (`<dest>.part-<pid>-<time>`) that is renamed
 * into place only when complete and, if given, matching sha256. Returns the file's SHA-256.
 */
export async function downloadVerified(href: string, o: VerifiedDownload): Promise<string> {
  const res = await fetchChecked(href, o.allowedHosts);
  if (!res.ok || !res.body) throw new DownloadError(`cannot download ${href}: HTTP ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length') ?? 0);
  const tmp = `${o.dest}.part-${process.pid}-${Date.now()}`;
  const fh = await open(tmp, 'w');
  const hash = createHash('sha256');
  const bar = startProgress(o.label, total, { setting: o.progress, units: 'bytes' });
  let got = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      await fh.write(chunk);
      hash.update(chunk);
      got += chunk.length;
      bar.increment(chunk.length);
    }
    await fh.sync();
  } catch (e) {
    await fh.close();
    rmSync(tmp, { force: true });
    throw new DownloadError(`download of ${href} failed after ${got} bytes: ${(e as Error).message}`);
  } finally {
    bar.stop();
  }
  await fh.close();
  const digest = hash.digest('hex');
  if (total && got !== total) {
    rmSync(tmp, { force: true });
    throw new DownloadError(`download of ${href} is truncated: ${got} of ${total} bytes`);
  }
  if (o.sha256 && digest !== o.sha256) {
    rmSync(tmp, { force: true });
    throw new Error(`SHA-256 mismatch for ${href}: expected ${o.sha256}, got ${digest}; the file was not kept`);
  }
  renameSync(tmp, o.dest);
  return digest;
}

/** The cache folder of a resolved URL's downloads: `<cache>/weights/<first 16 hex of its SHA-256>`. */
export function weightsDir(href: string, cache?: string): string {
  return join(cacheDir(cache), 'weights', createHash('sha256').update(href).digest('hex').slice(0, 16));
}

/**
 * Downloads url into `<cache>/weights/<hash of url>/<file>` unless a verified copy is there.
 * The download goes to a temporary file that is renamed into place only after its SHA-256 checks
 * out, so the cache never holds a partial or wrong file under the final name. Redirects are
 * followed only to https on the URL's host or allowedHosts.
 */
export async function fetchToCache(url: string, o: FetchOptions = {}): Promise<Fetched> {
  const href = resolveHfUrl(url);
  const u = parseHttpUrl(url, href);
  const want = checkSha(o.sha256);
  const dir = weightsDir(href, o.cacheDir);
  const name = o.fileName ?? (basename(u.pathname) || 'weights.safetensors');
  const dest = join(dir, name);
  const sidecar = `${dest}.sha256`;
  if (existsSync(dest)) {
    const have = await sha256File(dest);
    const recorded = existsSync(sidecar) ? readRegularText(sidecar, { maxBytes: 1024 }).trim() : undefined;
    if ((want ?? recorded) === have) return { path: dest, sha256: have, downloaded: false };
    rmSync(dest, { force: true }); // stale or corrupt: fetch again
  }
  mkdirSync(dir, { recursive: true });
  cleanStaleTemps(dir);
  const digest = await downloadVerified(href, { dest, sha256: want, progress: o.progress, label: `download ${name}`, allowedHosts: o.allowedHosts ?? HF_HOSTS });
  writeFileSync(sidecar, `${digest}\n`);
  return { path: dest, sha256: digest, downloaded: true };
}

// ---- loading

export interface LoadWeightsOptions extends FetchOptions {
  naming?: Naming;
  /** 'load' (default) loads the head too; 'skip' keeps the model's own head (e.g. after replaceHead). */
  head?: 'load' | 'skip';
  /** The head's key prefix (default 'fc.'). */
  headPrefix?: string;
}

export interface LoadedWeights {
  path: string;
  sha256?: string;
  missing: string[];
  unexpected: string[];
}

/**
 * Loads safetensors weights into model from a path, an http(s) URL or hf://owner/repo[/file]
 * (URLs go through fetchToCache). Strict (see loadStateDictChecked), dtype-converting.
 */
export async function loadWeights(model: Module, source: string, o: LoadWeightsOptions = {}): Promise<LoadedWeights> {
  const remote = /^(https?|hf):\/\//.test(source);
  const fetched = remote ? await fetchToCache(source, o) : null;
  const path = fetched?.path ?? source;
  const file = loadSafetensors(path);
  const sd = normalizeKeys(file.tensors, o.naming ?? 'auto');
  const prefix = o.headPrefix ?? 'fc.';
  try {
    const r = loadStateDictChecked(model, sd, { skip: o.head === 'skip' ? (k) => k.startsWith(prefix) : undefined });
    return { path, sha256: fetched?.sha256, ...r };
  } finally {
    for (const t of file.tensors.values()) (t as Tensor).dispose();
  }
}
