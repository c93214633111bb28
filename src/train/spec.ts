/**
 * The run spec: a `saln train` run's options (options.ts) validated with zod before any work
 * starts. The schema is derived from the options table; the checks that span several options
 * are below. Errors carry the offending option's key; the CLI names it as a flag and an
 * experiment as a field.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { ZOO } from '../models/zoo.js';
import { keptCount } from '../selection/index.js';
import { cudaDeviceCount } from '../tensor/index.js';
import { LEARNERS } from './models.js';
import { optionByKey, parseMilestones, TRAIN_OPTIONS, type OptionDef, type RunSpec } from './options.js';
import { locatePretrained, PRETRAINED_LEARNERS } from './pretrained.js';
import { RUN_FILES, RunDir } from './run-dir.js';
import { FEATURE_METHODS, METHODS, REFERENCE_METHODS } from './selectors/index.js';

export type { RunSpec } from './options.js';

/** One problem with a spec: the option's key and what is wrong ({otherKey} names another option). */
export interface SpecIssue {
  key: string;
  message: string;
}

/** The message with every {key} of an option named as `format` names it (a flag, or the key). */
function named(message: string, format: (key: string) => string): string {
  return message.replace(/\{([a-zA-Z]+)\}/g, (m, k: string) => (optionByKey(k) ? format(k) : m));
}

/** A spec that does not validate; `issues` lists every problem, each by option key. */
export class SpecError extends InputError {
  readonly issues: readonly SpecIssue[];
  constructor(issues: readonly SpecIssue[], format: (key: string) => string = (k) => k) {
    super('config', `invalid configuration:\n  ${issues.map((i) => `${format(i.key)}: ${named(i.message, format)}`).join('\n  ')}`, { field: issues[0]?.key });
    this.issues = issues.map((i) => ({ key: i.key, message: named(i.message, (k) => k) }));
  }
}

/** The zod type of one option row. */
function zodFor(o: OptionDef): z.ZodType {
  let t: z.ZodType;
  if (o.choices) t = z.enum(o.choices as [string, ...string[]]);
  else if (o.type === 'boolean') t = z.boolean();
  else if (o.type === 'string') t = z.string().min(1);
  else {
    let n = o.type === 'int' ? z.number().int(o.range ?? 'must be an integer') : z.number();
    if (o.min !== undefined) n = o.gt ? n.gt(o.min, o.range) : n.min(o.min, o.range);
    if (o.lt !== undefined) n = n.lt(o.lt, o.range);
    if (o.max !== undefined) n = n.max(o.max, o.range);
    t = n;
  }
  return o.default !== undefined ? t.default(o.default as never) : o.required ? t : t.optional();
}

const knownModels = (): string[] => [...Object.keys(LEARNERS), ...Object.keys(PRETRAINED_LEARNERS)];

/** The schema of one option row at a time: every key, then the checks that span options. */
export const runSpecSchema = z.object(Object.fromEntries((TRAIN_OPTIONS as readonly OptionDef[]).map((o) => [o.key, zodFor(o)]))).superRefine((raw, ctx) => {
  const c = raw as unknown as RunSpec;
  const issue = (key: string, message: string): void => void ctx.addIssue({ code: 'custom', path: [key], message });
  if (!knownModels().includes(c.model)) issue('model', `unknown model; models: ${knownModels().join(', ')}`);
  if (!(METHODS as readonly string[]).includes(c.method)) issue('method', `unknown method ${JSON.stringify(c.method)}; methods: ${METHODS.join(', ')}`);
  // Super-batch mode always trains B, so only in-batch mode can keep 0 samples.
  const inBatch = c.selectionMode === 'in-batch';
  const keeps = (ratio: number | undefined, key: string): void => {
    if (!inBatch || ratio === undefined || !(ratio >= 0 && ratio < 1) || !(Number.isInteger(c.batchSize) && c.batchSize >= 1)) return;
    try {
      keptCount(c.batchSize, ratio);
    } catch (e) {
      issue(key, (e as Error).message);
    }
  };
  keeps(c.filterRatio, 'filterRatio');
  if (REFERENCE_METHODS.includes(c.method) && c.reference === undefined && c.referenceHoldout === undefined) {
    issue('reference', `method ${c.method} needs a reference model: {referenceHoldout} N (train one on N held-out training samples) or {reference} RUN_DIR (a finished \`saln train\` run)`);
  }
  if (c.reference !== undefined && c.referenceHoldout !== undefined) issue('referenceHoldout', 'give either {reference} or {referenceHoldout}, not both');
  if (c.referenceHoldout !== undefined && c.limitTrain !== undefined && c.referenceHoldout >= c.limitTrain) issue('referenceHoldout', `must be smaller than {limitTrain} (${c.limitTrain}): the learner trains on the rest`);
  if (c.reference !== undefined && !RunDir.exists(c.reference)) issue('reference', `${c.reference} is not a run directory (no ${RUN_FILES.config})`);
  else if (c.reference !== undefined && !RunDir.at(c.reference).has('checkpoint')) issue('reference', `${c.reference} has no checkpoint`);
  if (c.filterSchedule !== 'constant') {
    if (c.filterRatioEnd === undefined) issue('filterRatioEnd', `the ${c.filterSchedule} schedule needs an end ratio`);
    else keeps(c.filterRatioEnd, 'filterRatioEnd');
    if (c.method === 'none') issue('filterSchedule', 'method none trains every sample: a schedule needs another method');
  }
  if (c.lrMilestones !== undefined) {
    const ms = parseMilestones(c.lrMilestones);
    if (ms === null) issue('lrMilestones', 'expected epochs separated by commas, such as 30,60');
    else if (ms.some((m) => m < 1 || m >= c.epochs)) issue('lrMilestones', `every milestone must be an epoch from 1 to {epochs} − 1 (${c.epochs - 1})`);
    if (c.lrSchedule !== 'step') issue('lrMilestones', 'milestones are for {lrSchedule} step');
  }
  if (c.warmupEpochs > 0 && c.lrSchedule === 'onecycle') issue('warmupEpochs', 'onecycle warms up by itself (its first 30% of steps); use warmup with constant, cosine or step');
  if (c.warmupEpochs >= c.epochs) issue('warmupEpochs', `must be less than {epochs} (${c.epochs})`);
  if (c.method === 'infobatch' && c.infobatchMode === 'official' && c.selectionMode === 'super-batch') {
    issue('infobatchMode', 'official infobatch prunes each epoch\'s index list and trains full batches: use {selectionMode} in-batch, or {infobatchMode} in-batch');
  }
  if (!c.craigWeights && c.method !== 'craig') issue('craigWeights', `weights are craig's; method ${c.method} has none to switch off`);
  if (c.method === 'none' && c.filterRatio !== 0) issue('filterRatio', 'method none trains every sample: use filter ratio 0 (or another method)');
  if (!existsSync(c.dataDir)) issue('dataDir', `${c.dataDir} does not exist`);
  if (c.featuresFile !== undefined && !existsSync(c.featuresFile)) issue('featuresFile', `${c.featuresFile} does not exist`);
});

/** What is here to run the spec: CUDA, and the weights it starts from. */
function environmentIssues(c: RunSpec, o: { cacheDir?: string }): SpecIssue[] {
  const issues: SpecIssue[] = [];
  if (c.device === 'cuda' && cudaDeviceCount() === 0) issues.push({ key: 'device', message: 'CUDA is not available (libtorch sees no GPU, or this build has no CUDA support); use {device} cpu' });
  // saln (kcenter, craig) on cached features needs them: a --features file, or a known feature model (its weights
  // are fetched on first use when they are not in the cache).
  if (FEATURE_METHODS.includes(c.method) && c.featureSource === 'cache' && c.featuresFile === undefined && !ZOO[c.featureModel]) {
    issues.push({ key: 'featureModel', message: `${c.method} needs features: unknown feature model ${JSON.stringify(c.featureModel)}; known: ${Object.keys(ZOO).join(', ')}` });
  }
  if (locatePretrained(c.model, { cacheDir: o.cacheDir }) === null) {
    issues.push({ key: 'model', message: `${c.model} starts from ${PRETRAINED_LEARNERS[c.model]}'s ImageNet weights, which are not available here (see \`saln models list\`; \`saln models pull ${PRETRAINED_LEARNERS[c.model]}\`)` });
  }
  return issues;
}

export interface ParseSpecOptions {
  cacheDir?: string;
  /** How an option key is named in messages (the CLI: its flag). */
  format?: (key: string) => string;
}

/** Validates raw options (by key) into a RunSpec; throws a SpecError listing every problem. */
export function parseRunSpec(raw: unknown, o: ParseSpecOptions = {}): RunSpec {
  const r = runSpecSchema.safeParse(raw);
  const issues: SpecIssue[] = r.success ? [] : r.error.issues.map((i) => ({ key: String(i.path[0] ?? ''), message: i.message }));
  if (r.success) {
    const spec = r.data as unknown as RunSpec;
    issues.push(...environmentIssues(spec, o));
    if (!issues.length) return spec;
  }
  throw new SpecError(issues, o.format);
}
