/** Where saln keeps downloads, unpacked datasets and prepared caches. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** saln's cache root: $SALN_CACHE, else ~/.cache/saln. */
export function cacheRoot(): string {
  const env = process.env.SALN_CACHE;
  return env !== undefined && env !== '' ? env : join(homedir(), '.cache', 'saln');
}
