/**
 * Downloads that resume and verify: HTTP(S) GET into `<dest>.part`, resumed with a Range request
 * after an interruption, checked against an expected SHA-256 before it is renamed to `dest`.
 * Also .tar.gz unpacking (tar), into a temporary folder first.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extractArchive } from '../io/archive.js';
import { regularFileSize } from '../io/files.js';
import { redirectProblem } from '../io/redirects.js';
import { DataError } from './errors.js';

export interface DownloadOptions {
  /** Expected SHA-256 (hex). null skips the check: only for callers that verify by other means. */
  sha256: string | null;
  /** Tries per address, each resuming where the last stopped (default 4). */
  retries?: number;
  /** Milliseconds without data before a try is abandoned (default 60 s). */
  idleTimeoutMs?: number;
  /** Called as bytes arrive: (bytes on disk, total or null when the server does not say). */
  onProgress?: (received: number, total: number | null) => void;
  /** Progress notes: resuming, retrying, switching address. */
  onLog?: (message: string) => void;
  /** Wait between tries in ms (default 1000·try). */
  backoffMs?: (attempt: number) => number;
  /** Hosts a redirect may lead to besides the address's own ("*.example.org" for subdomains); redirects must stay on https. */
  allowedHosts?: readonly string[];
}

export interface DownloadResult {
  path: string;
  sha256: string;
  bytes: number;
  /** The file was already there and verified: nothing was fetched. */
  reused: boolean;
  /** Some bytes came from an earlier, interrupted download. */
  resumed: boolean;
  url: string | null;
}

/** SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  regularFileSize(path); // a FIFO or a device would never end
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

class HttpStatusError extends Error {
  constructor(readonly status: number, url: string) {
    super(`HTTP ${status} from ${url}`);
  }
}

interface RequestPolicy {
  idleMs: number;
  /** The address the download began at: redirects are judged against it. */
  origin?: URL;
  allowedHosts: readonly string[];
}

function request(url: string, headers: Record<string, string>, policy: RequestPolicy, redirects = 5): Promise<{ res: IncomingMessage; url: string }> {
  const idleMs = policy.idleMs;
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new DataError(`not a valid URL: ${url}`));
      return;
    }
    const origin = policy.origin ?? u;
    const get = u.protocol === 'https:' ? httpsGet : u.protocol === 'http:' ? httpGet : null;
    if (get === null) {
      reject(new DataError(`unsupported URL scheme ${u.protocol} in ${url} (expected http: or https:)`));
      return;
    }
    const req = get(u, { headers: { 'user-agent': 'saln-data', ...headers } }, (res) => {
      const s = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(s) && res.headers.location) {
        res.resume();
        if (redirects === 0) {
          reject(new Error(`too many redirects from ${url}`));
          return;
        }
        const to = new URL(res.headers.location, u);
        const refused = redirectProblem(origin, to, policy.allowedHosts);
        if (refused !== null) {
          reject(new DataError(`${url}: ${refused}`));
          return;
        }
        request(to.toString(), headers, { ...policy, origin }, redirects - 1).then(resolve, reject);
        return;
      }
      resolve({ res, url });
    });
    req.setTimeout(idleMs, () => req.destroy(new Error(`no data from ${u.host} for ${Math.round(idleMs / 1000)} s`)));
    req.on('error', reject);
  });
}

/** One try: fetch (the rest of) url into part. Resolves when the body is complete. */
async function fetchInto(url: string, part: string, o: DownloadOptions): Promise<boolean> {
  const have = existsSync(part) ? statSync(part).size : 0;
  const idleMs = o.idleTimeoutMs ?? 60_000;
  const { res, url: finalUrl } = await request(url, have > 0 ? { range: `bytes=${have}-` } : {}, { idleMs, allowedHosts: o.allowedHosts ?? [] });
  const status = res.statusCode ?? 0;
  if (status === 416 && have > 0) {
    // Nothing left past what we have: complete if the server's length says so, else start over.
    res.resume();
    const total = /\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''))?.[1];
    if (total !== undefined && Number(total) === have) return true;
    truncateSync(part, 0);
    throw new Error(`the server refused to resume ${finalUrl} at byte ${have}; starting over`);
  }
  let start = 0;
  let total: number | null = null;
  if (status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
    if (m === null || Number(m[1]) !== have) {
      res.resume();
      truncateSync(part, 0);
      throw new Error(`the server resumed ${finalUrl} at the wrong place (${String(res.headers['content-range'])}, expected byte ${have}); starting over`);
    }
    start = have;
    total = m[3] === '*' ? null : Number(m[3]);
  } else if (status === 200) {
    const len = res.headers['content-length'];
    total = len === undefined ? null : Number(len);
  } else {
    res.resume();
    throw new HttpStatusError(status, finalUrl);
  }
  let received = start;
  o.onProgress?.(received, total);
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      o.onProgress?.(received, total);
      cb(null, chunk);
    },
  });
  // The socket's idle timeout (set in request) also covers a stalled body.
  await pipeline(res, counter, createWriteStream(part, { flags: start > 0 ? 'a' : 'w' }));
  if (!res.complete) throw new Error(`the connection to ${new URL(finalUrl).host} closed before the end of ${finalUrl}`);
  const size = statSync(part).size;
  if (total !== null && size !== total) throw new Error(`${finalUrl} ended at byte ${size} of ${total}`);
  return start > 0;
}

/**
 * Downloads the first address that works into dest, resuming partial downloads (dest.part) and
 * verifying SHA-256. A file already at dest with the right checksum is reused. On a checksum
 * mismatch the download is deleted and a DataError names both checksums.
 */
export async function download(urls: string | string[], dest: string, o: DownloadOptions): Promise<DownloadResult> {
  const list = typeof urls === 'string' ? [urls] : urls;
  const expected = o.sha256?.toLowerCase() ?? null;
  if (expected !== null && !/^[0-9a-f]{64}$/.test(expected)) throw new DataError(`Expected a 64-digit hex SHA-256 but received ${JSON.stringify(o.sha256)}`);
  mkdirSync(dirname(dest), { recursive: true });
  const log = o.onLog ?? (() => {});
  if (existsSync(dest)) {
    const got = await sha256File(dest);
    if (expected === null || got === expected) return { path: dest, sha256: got, bytes: statSync(dest).size, reused: true, resumed: false, url: null };
    log(`${dest} does not match its checksum: downloading it again`);
    unlinkSync(dest);
  }
  const part = `${dest}.part`;
  const tries = Math.max(1, o.retries ?? 4);
  const errors: string[] = [];
  let resumed = false;
  let done: string | null = null;
  for (const url of list) {
    for (let attempt = 1; attempt <= tries && done === null; attempt++) {
      try {
        if (existsSync(part) && statSync(part).size > 0) log(`resuming ${url} at byte ${statSync(part).size}`);
        resumed = (await fetchInto(url, part, o)) || resumed;
        done = url;
      } catch (e) {
        const msg = (e as Error).message;
        errors.push(`${url} (try ${attempt}): ${msg}`);
        // 4xx (other than a refused resume, handled in fetchInto) will not get better by retrying.
        if (e instanceof DataError || (e instanceof HttpStatusError && e.status >= 400 && e.status < 500)) break;
        if (attempt < tries) {
          log(`${msg}; retrying`);
          await new Promise((r) => setTimeout(r, o.backoffMs ? o.backoffMs(attempt) : 1000 * attempt));
        }
      }
    }
    if (done !== null) break;
  }
  if (done === null) {
    throw new DataError(`could not download ${dest.split(/[/\\]/).pop()}:\n  ${errors.join('\n  ')}\n(the partial file ${part} is kept, and the next try resumes it)`, { path: part });
  }
  const got = await sha256File(part);
  const bytes = statSync(part).size;
  if (expected !== null && got !== expected) {
    unlinkSync(part);
    throw new DataError(`checksum mismatch for ${done}: expected SHA-256 ${expected} but the ${bytes} bytes received hash to ${got}; the download was deleted, so the next try starts from scratch`, { path: dest });
  }
  renameSync(part, dest);
  return { path: dest, sha256: got, bytes, reused: false, resumed, url: done };
}

/**
 * Unpacks a .tar.gz into destDir: first into a temporary folder inside it, then each top-level
 * entry is moved into place (replacing an older one), so an interrupted unpack leaves no half
 * folder under its final name. Only plain files and folders are unpacked, without setuid/setgid
 * bits (see io/archive.ts); a rejected archive's files are removed with the temporary folder.
 */
export async function unpackTarGz(file: string, destDir: string): Promise<string[]> {
  mkdirSync(destDir, { recursive: true });
  const tmp = join(destDir, `.unpack-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp);
  try {
    try {
      await extractArchive(file, tmp);
    } catch (e) {
      throw new DataError((e as Error).message, { path: file });
    }
    const top = (await readdir(tmp)).sort();
    for (const name of top) {
      const target = join(destDir, name);
      rmSync(target, { recursive: true, force: true });
      renameSync(join(tmp, name), target);
    }
    return top;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
