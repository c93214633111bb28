/** JSON files a user points saln at (results, machines, lost runs), read safely and checked against a schema. */
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { firstSchemaIssue } from '../schema-issues.js';
import { readRegularText } from './files.js';

/** A JSON file checked against a schema: unreadable JSON, or the first bad field, is an InputError naming the file. */
export function readJsonFile<T extends z.ZodType>(path: string, schema: T, what: string): z.output<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(readRegularText(path, { maxBytes: 256 << 20 }));
  } catch (e) {
    if (e instanceof InputError) throw e; // not a regular file, or too large: its message names the file
    throw new InputError('io', `cannot read ${path} as JSON: ${(e as Error).message}`, { path });
  }
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const { field, text } = firstSchemaIssue(r.error);
  throw new InputError('io', `${path}: not ${what} (${text})`, { path, field: field || undefined });
}
