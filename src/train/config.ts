/**
 * The `saln train` configuration, validated with zod before any work starts. Every error names
 * the field (as its CLI flag) and what was wrong.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { InputError, type InputErrorWhere } from '../errors.js';
import { keptCount } from '../selection/index.js';
import { ZOO } from '../models/zoo.js';
import { LEARNERS } from './models.js';
import { locatePretrained, PRETRAINED_LEARNERS } from './pretrained.js';
import { METHODS, PLANNED_METHODS, REFERENCE_METHODS } from './selectors/index.js';
import { CHECKPOINT_FILE } from './checkpoint.js';
import { join } from 'node:path';
import { FEATURE_SOURCES } from './selectors/saln.js';
import { SCHEDULES } from './schedule.js';
import { DEVICES, LR_SCALINGS, SELECTION_MODES } from './modes.js';
import { cudaDeviceCount } from '../tensor/index.js';

export const DATASETS = ['cifar10', 'oxford-pets', 'imagefolder'] as const;

const FLAG: Record<string, string> = {
  dataset: '--dataset', dataDir: '--data-dir', model: '--model', method: '--method', filterRatio: '--filter-ratio', epochs: '--epochs',
  batchSize: '--batch-size', lr: '--lr', momentum: '--momentum', weightDecay: '--weight-decay', seed: '--seed', limitTrain: '--limit-train',
  limitVal: '--limit-val', limitTest: '--limit-test', out: '--out', featureSource: '--feature-source', featureModel: '--feature-model',
  featureSize: '--feature-size', imageSize: '--image-size', solver: '--solver', augment: '--no-augment', threads: '--threads', featuresFile: '--features', filterSchedule: '--filter-schedule', filterRatioEnd: '--filter-ratio-end', reference: '--reference', jestChunks: '--jest-chunks',
  referenceHoldout: '--reference-holdout', referenceEpochs: '--reference-epochs', referenceDir: '--reference-dir',
  selectionMode: '--selection-mode', lrScaling: '--lr-scaling', device: '--device', budgetSeconds: '--budget-seconds', budgetGradientSamples: '--budget-gradient-samples',
  evalEvery: '--eval-every',
};

export const cliConfigSchema = z.object({
  dataset: z.enum(DATASETS),
  dataDir: z.string().min(1),
  model: z.string().refine((m) => m in LEARNERS || m in PRETRAINED_LEARNERS, { message: `unknown model; models: ${[...Object.keys(LEARNERS), ...Object.keys(PRETRAINED_LEARNERS)].join(', ')}` }),
  method: z.string().superRefine((m, c) => {
    if ((METHODS as readonly string[]).includes(m)) return;
    c.addIssue({
      code: 'custom',
      message: (PLANNED_METHODS as readonly string[]).includes(m)
        ? `method ${m} is not implemented yet; implemented: ${METHODS.join(', ')}`
        : `unknown method ${JSON.stringify(m)}; methods: ${METHODS.join(', ')}`,
    });
  }),
  filterRatio: z.number().min(0, 'must be in [0, 1)').lt(1, 'must be in [0, 1)'),
  epochs: z.number().int().min(1),
  batchSize: z.number().int().min(1),
  lr: z.number().positive(),
  momentum: z.number().min(0),
  weightDecay: z.number().min(0),
  seed: z.number().int().min(0),
  limitTrain: z.number().int().min(1).optional(),
  limitVal: z.number().int().min(1).optional(),
  limitTest: z.number().int().min(1).optional(),
  out: z.string().min(1),
  featureSource: z.enum(FEATURE_SOURCES as [string, ...string[]]),
  featureModel: z.string().min(1),
  featureSize: z.number().int().min(1).optional(),
  imageSize: z.number().int().min(1).optional(),
  solver: z.enum(['auto', 'eigh', 'lanczos']),
  augment: z.boolean(),
  threads: z.number().int().min(1).optional(),
  saveSelections: z.boolean(),
  featuresFile: z.string().optional(),
  filterSchedule: z.enum(SCHEDULES).default('constant'),
  reference: z.string().optional(),
  /**
   * Hold out this many (class-balanced) training samples: jest / rho-loss train their reference on
   * them; other methods just skip them, so they train on exactly the samples a jest run does.
   */
  referenceHoldout: z.number().int().min(1).optional(),
  referenceEpochs: z.number().int().min(1).optional(),
  /** Where that reference run goes (default RUN_DIR/reference); an experiment shares one per seed. */
  referenceDir: z.string().min(1).optional(),
  jestChunks: z.number().int().min(1).default(16),
  filterRatioEnd: z.number().min(0, 'must be in [0, 1)').lt(1, 'must be in [0, 1)').optional(),
  selectionMode: z.enum(SELECTION_MODES).default('in-batch'),
  lrScaling: z.enum(LR_SCALINGS).default('none'),
  device: z.enum(DEVICES).default('cpu'),
  budgetSeconds: z.number().positive('must be > 0').optional(),
  budgetGradientSamples: z.number().int('must be an integer').min(1, 'must be >= 1').optional(),
  /** Also validate every N gradient samples (mid-epoch points for equal-budget comparisons). */
  evalEvery: z.number().int('must be an integer').min(1, 'must be >= 1').optional(),
}).superRefine((c, ctx) => {
  // Super-batch mode always trains B, so only in-batch mode can keep 0 samples.
  const inBatch = c.selectionMode === 'in-batch';
  if (inBatch && c.filterRatio >= 0 && c.filterRatio < 1 && Number.isInteger(c.batchSize) && c.batchSize >= 1) {
    try {
      keptCount(c.batchSize, c.filterRatio);
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['filterRatio'], message: (e as Error).message });
    }
  }
  if (REFERENCE_METHODS.includes(c.method) && c.reference === undefined && c.referenceHoldout === undefined) {
    ctx.addIssue({ code: 'custom', path: ['reference'], message: `method ${c.method} needs a reference model: --reference-holdout N (train one on N held-out training samples) or --reference RUN_DIR (a finished \`saln train\` run)` });
  }
  if (c.reference !== undefined && c.referenceHoldout !== undefined) ctx.addIssue({ code: 'custom', path: ['referenceHoldout'], message: 'give either --reference or --reference-holdout, not both' });
  if (c.referenceHoldout !== undefined && c.limitTrain !== undefined && c.referenceHoldout >= c.limitTrain) ctx.addIssue({ code: 'custom', path: ['referenceHoldout'], message: `must be smaller than --limit-train (${c.limitTrain}): the learner trains on the rest` });
  if (c.reference !== undefined && !existsSync(join(c.reference, 'config.json'))) ctx.addIssue({ code: 'custom', path: ['reference'], message: `${c.reference} is not a run directory (no config.json)` });
  else if (c.reference !== undefined && !existsSync(join(c.reference, CHECKPOINT_FILE))) ctx.addIssue({ code: 'custom', path: ['reference'], message: `${c.reference} has no checkpoint` });
  if (c.filterSchedule !== 'constant') {
    if (c.filterRatioEnd === undefined) ctx.addIssue({ code: 'custom', path: ['filterRatioEnd'], message: `the ${c.filterSchedule} schedule needs an end ratio` });
    else if (inBatch && c.filterRatioEnd >= 0 && c.filterRatioEnd < 1 && Number.isInteger(c.batchSize) && c.batchSize >= 1) {
      try {
        keptCount(c.batchSize, c.filterRatioEnd);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['filterRatioEnd'], message: (e as Error).message });
      }
    }
    if (c.method === 'none') ctx.addIssue({ code: 'custom', path: ['filterSchedule'], message: 'method none trains every sample: a schedule needs another method' });
  }
  if (c.method === 'none' && c.filterRatio !== 0) ctx.addIssue({ code: 'custom', path: ['filterRatio'], message: 'method none trains every sample: use filter ratio 0 (or another method)' });
  if (!existsSync(c.dataDir)) ctx.addIssue({ code: 'custom', path: ['dataDir'], message: `${c.dataDir} does not exist` });
  if (c.featuresFile !== undefined && !existsSync(c.featuresFile)) ctx.addIssue({ code: 'custom', path: ['featuresFile'], message: `${c.featuresFile} does not exist` });
  if (c.dataset === 'imagefolder' && c.imageSize === undefined) ctx.addIssue({ code: 'custom', path: ['imageSize'], message: 'an imagefolder dataset needs --image-size' });
});

export type CliConfig = z.infer<typeof cliConfigSchema>;

/** Parses and validates; throws an Error whose message lists every problem, each by its flag. */
export function parseCliConfig(raw: unknown, o: { cacheDir?: string } = {}): CliConfig {
  const r = cliConfigSchema.safeParse(raw);
  const issues: { path: PropertyKey[]; message: string }[] = r.success ? [] : [...r.error.issues];
  if (r.success) {
    // saln on cached features needs them: a --features file, or a feature model whose weights are here.
    const c = r.data;
    if (c.device === 'cuda' && cudaDeviceCount() === 0) issues.push({ path: ['device'], message: 'CUDA is not available (libtorch sees no GPU, or this build has no CUDA support); use --device cpu' });
    if (c.method === 'saln' && c.featureSource === 'cache' && c.featuresFile === undefined) {
      const entry = ZOO[c.featureModel];
      if (!entry) issues.push({ path: ['featureModel'], message: `saln needs features: unknown feature model ${JSON.stringify(c.featureModel)}; known: ${Object.keys(ZOO).join(', ')}` });
      else if (entry.locate({ cacheDir: o.cacheDir }) === null) {
        issues.push({ path: ['featureSource'], message: `saln needs features: no --features file was given and ${c.featureModel}'s weights are not available to extract them (run \`saln models pull ${c.featureModel}\`, or use --feature-source pixels|learner)` });
      }
    }
    if (locatePretrained(c.model, { cacheDir: o.cacheDir }) === null) {
      issues.push({ path: ['model'], message: `${c.model} starts from ${PRETRAINED_LEARNERS[c.model]}'s ImageNet weights, which are not available here (see \`saln models list\`; \`saln models pull ${PRETRAINED_LEARNERS[c.model]}\`)` });
    }
    if (!issues.length) return c;
  }
  const lines = issues.map((i) => {
    const field = String(i.path[0] ?? '');
    return `${FLAG[field] ?? field}: ${i.message}`;
  });
  throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
}

/** A `saln train` configuration that does not validate; the message names each flag. */
export class ConfigError extends InputError {
  constructor(message: string, where: InputErrorWhere = {}) {
    super('config', message, where);
  }
}
