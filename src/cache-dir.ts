/** Where saln keeps downloads, datasets, prepared caches, pulled models, feature caches and the registry: $SALN_CACHE, else ~/.cache/saln (the one place that reads $SALN_CACHE). */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function cacheDir(override?: string): string {
  if (override) return resolve(override);
  const env = process.env.SALN_CACHE;
  return env ? resolve(env) : join(homedir(), '.cache', 'saln');
}
