/** Where saln keeps downloads, pulled models and feature caches: $SALN_CACHE, else ~/.cache/saln. */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function cacheDir(override?: string): string {
  if (override) return resolve(override);
  const env = process.env.SALN_CACHE;
  return env ? resolve(env) : join(homedir(), '.cache', 'saln');
}
