/**
 * The `saln experiment CONFIG` file: a grid of datasets × seeds × methods, in YAML or JSON,
 * validated with zod. Every error names the field by its path in the file (`methods[2].filterRatio`).
 *
 *   name: quickstart
 *   datasets:
 *     - { dataset: cifar10, dataDir: ../data/cifar10-sample, limitVal: 200 }
 *   model: resnet18-cifar
 *   seeds: [0, 1]
 *   train: { epochs: 3, batchSize: 128, filterRatio: 0.8 }
 *   methods:
 *     - none
 *     - saln
 *     - random
 *     - { method: jest, label: jest-holdout }
 *   reference: { holdout: 400, epochs: 3 }
 *
 * Keys under datasets, train and each method are `saln train`'s options in camelCase
 * (the keys of src/train/options.ts); the most specific wins: method > dataset > train.
 *
 * Equal wall time: a method entry with `wallBudgetOf: none` trains with `budgetSeconds` set to
 * the median wall seconds of the `none` entry's runs on the same dataset (every seed of it). Such
 * cells run after every other cell of the grid, once those runs are finished.
 * Relative paths (out, dataDir, featuresFile) resolve against the config file's folder.
 */
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError, type InputErrorWhere } from '../errors.js';
import { FileError } from '../io/errors.js';
import { readRegularText } from '../io/files.js';
import { schemaIssues } from '../schema-issues.js';
import { TRAIN_OPTIONS } from '../train/options.js';

/** The run options a config may set (every `saln train` option but the ones the grid owns). */
const GRID_OWNED = ['method', 'seed', 'out', 'reference', 'referenceHoldout', 'referenceEpochs', 'referenceDir'] as const;
const RUN_KEYS: readonly string[] = TRAIN_OPTIONS.map((o) => o.key as string).filter((k) => !(GRID_OWNED as readonly string[]).includes(k));
const PATH_KEYS = ['dataDir', 'featuresFile'] as const;

const runOptions = z.record(z.string(), z.unknown()).superRefine((o, ctx) => {
  for (const k of Object.keys(o)) {
    if (!RUN_KEYS.includes(k)) ctx.addIssue({ code: 'custom', path: [k], message: (GRID_OWNED as readonly string[]).includes(k) ? `${k} is set by the experiment grid, not here` : `unknown option; options: ${RUN_KEYS.join(', ')}` });
  }
});

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only (it names folders)');

/** One method entry of the grid: its selector, label (its identity), run options, and where its wall budget comes from. */
export interface MethodEntry {
  method: string;
  label: string;
  options: Record<string, unknown>;
  /** Train for the median wall seconds of this entry's runs (same dataset). */
  wallBudgetOf?: string;
  /** This entry's seeds, when not the experiment's (5 for the controls, 3 for the rest). */
  seeds?: number[];
}

const seedList = z.array(z.number().int().min(0)).min(1).refine((s) => new Set(s).size === s.length, 'a seed is listed twice');

// A bare string is the method's name; either way one object schema, so errors name the exact key.
const methodEntry = z.preprocess(
  (v) => (typeof v === 'string' ? { method: v } : v),
  z.object({ method: z.string().min(1), label: name.optional(), wallBudgetOf: name.optional(), seeds: seedList.optional() }).catchall(z.unknown())
    .transform(({ method, label, wallBudgetOf, seeds, ...options }): MethodEntry => ({
      method, label: label ?? method, options, ...(wallBudgetOf !== undefined ? { wallBudgetOf } : {}), ...(seeds !== undefined ? { seeds } : {}),
    })),
);

export const experimentSchema = z.object({
  name,
  /** Where the runs, references and report go (default: runs/<name> under the working directory). */
  out: z.string().min(1).optional(),
  datasets: z.array(z.object({ label: name.optional(), dataset: z.string().min(1), dataDir: z.string().min(1) }).catchall(z.unknown())).min(1),
  model: z.string().min(1).default('resnet18-cifar'),
  seeds: seedList.default([0]),
  train: runOptions.default({}),
  methods: z.array(methodEntry).min(1),
  /** How jest and rho-loss get their reference model: trained on a class-balanced holdout, once per dataset and seed. */
  reference: z.object({ holdout: z.number().int().min(1), epochs: z.number().int().min(1).optional() }).strict().optional(),
  report: z.object({ title: z.string().optional(), targetAccuracy: z.number().gt(0).lte(1).optional() }).strict().default({}),
}).strict().superRefine((c, ctx) => {
  // An entry that failed its own schema is reported as such; the checks across entries need whole ones.
  if (c.methods.some((m) => typeof m?.options !== 'object')) return;
  const labels = c.methods.map((m) => m.label);
  labels.forEach((l, i) => {
    if (labels.indexOf(l) !== i) ctx.addIssue({ code: 'custom', path: ['methods', i, 'label'], message: `label ${JSON.stringify(l)} is used twice; give the entries different labels` });
  });
  c.methods.forEach((m, i) => {
    for (const k of Object.keys(m.options)) {
      if (!RUN_KEYS.includes(k)) ctx.addIssue({ code: 'custom', path: ['methods', i, k], message: (GRID_OWNED as readonly string[]).includes(k) ? `${k} is set by the experiment grid, not here` : `unknown option; options: method, label, ${RUN_KEYS.join(', ')}` });
    }
    if ('wallBudgetOf' in m) checkWallBudget(c.methods, i, ctx);
    if (['jest', 'rho-loss', 'rho-diverse'].includes(m.method) && c.reference === undefined) ctx.addIssue({ code: 'custom', path: ['reference'], message: `method ${m.method} needs a reference model: add reference: { holdout: N, epochs: E }` });
  });
  const dl = c.datasets.map((d) => d.label ?? d.dataset);
  dl.forEach((l, i) => {
    if (dl.indexOf(l) !== i) ctx.addIssue({ code: 'custom', path: ['datasets', i, 'label'], message: `dataset ${JSON.stringify(l)} appears twice; give the entries different labels` });
  });
  c.datasets.forEach((d, i) => {
    for (const k of Object.keys(d)) if (k !== 'label' && !RUN_KEYS.includes(k)) ctx.addIssue({ code: 'custom', path: ['datasets', i, k], message: `unknown option; options: label, ${RUN_KEYS.join(', ')}` });
  });
});

/** A wallBudgetOf names another entry, one with a fixed length, and the entry sets no budget of its own. */
function checkWallBudget(methods: readonly MethodEntry[], i: number, ctx: z.RefinementCtx): void {
  const m = methods[i]!;
  const of = methods.find((x) => x.label === m.wallBudgetOf);
  const issue = (message: string): void => ctx.addIssue({ code: 'custom', path: ['methods', i, 'wallBudgetOf'], message });
  if (!of) issue(`no method entry is labelled ${JSON.stringify(m.wallBudgetOf)}; labels: ${methods.map((x) => x.label).join(', ')}`);
  else if (of === m) issue('an entry cannot take its budget from itself');
  else if (of.wallBudgetOf !== undefined) issue(`${of.label} takes its own budget from ${of.wallBudgetOf}; name an entry with a fixed length`);
  if (m.options.budgetSeconds !== undefined) issue('the entry also sets budgetSeconds; keep one of the two');
}

/** The seeds an entry runs: its own, else the experiment's. */
export function seedsOf(exp: Pick<ExperimentConfig, 'seeds'>, m: MethodEntry): number[] {
  return m.seeds ?? exp.seeds;
}

export type ExperimentConfig = z.infer<typeof experimentSchema> & { out: string; file: string };

export class ExperimentConfigError extends InputError {
  constructor(message: string, where: InputErrorWhere = {}) {
    super('experiment', message, where);
  }
}

/** Parses YAML (or JSON, which is YAML) text; `file` names it in errors and anchors relative paths. */
export function parseExperiment(text: string, file: string): ExperimentConfig {
  let raw: unknown;
  try {
    raw = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ExperimentConfigError(`${file}: not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  const r = experimentSchema.safeParse(raw);
  if (!r.success) {
    throw new ExperimentConfigError(`${file}: invalid experiment:\n  ${schemaIssues(r.error).map((i) => (i.field ? i.text : `(top level): ${i.message}`)).join('\n  ')}`);
  }
  const base = dirname(resolve(file));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const c = r.data;
  for (const opts of [...c.datasets, c.train, ...c.methods.map((m) => m.options)] as Record<string, unknown>[]) {
    for (const k of PATH_KEYS) if (typeof opts[k] === 'string') opts[k] = abs(opts[k]);
  }
  // The default output sits under the working directory, not beside the config (which may be read-only).
  return { ...c, out: c.out !== undefined ? abs(c.out) : resolve('runs', c.name), file: resolve(file) };
}

/** An experiment config is a page of YAML: anything near this size is not one. */
const CONFIG_MAX_BYTES = 16 << 20;

export function readExperiment(file: string): ExperimentConfig {
  let text: string;
  try {
    text = readRegularText(file, { what: 'experiment config', maxBytes: CONFIG_MAX_BYTES });
  } catch (e) {
    if (e instanceof FileError) throw new ExperimentConfigError(e.message);
    throw new ExperimentConfigError(`cannot read experiment config ${file}: ${(e as Error).message}`);
  }
  return parseExperiment(text, file);
}
