/**
 * How a zod schema's complaint is told to the user: the field as `methods[2].filterRatio` and the
 * message. Every layer that checks a file or config against a schema (run directories, experiment
 * configs, results files, TF.js manifests) names the bad field the same way.
 */
import type { z } from 'zod';

/** `methods[2].filterRatio` from a zod path; `prefix` names the value the path starts at. */
export function fieldPath(path: readonly PropertyKey[], prefix = ''): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)), prefix);
}

export interface SchemaIssue {
  /** The bad field ('' when the value as a whole is wrong). */
  field: string;
  message: string;
  /** `field: message`, or the message alone. */
  text: string;
}

/** Each issue of a failed parse, in zod's order. */
export function schemaIssues(e: z.ZodError, prefix = ''): SchemaIssue[] {
  return e.issues.map((i) => {
    const field = fieldPath(i.path, prefix);
    return { field, message: i.message, text: field ? `${field}: ${i.message}` : i.message };
  });
}

/** The first issue of a failed parse: files are fixed one problem at a time. */
export function firstSchemaIssue(e: z.ZodError, prefix = ''): SchemaIssue {
  return schemaIssues(e, prefix)[0]!;
}
