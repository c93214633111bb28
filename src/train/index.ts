/**
 * Training with in-batch selection: selectors, the trainer, checkpoints and run directories.
 *
 *   const data = { train: tensorSource(x, labels, ids, { batchSize: 64 }), val: null, test, numClasses: 10 };
 *   const { summary } = await train({ config: { ...DEFAULTS, model: 'resnet18-cifar', method: 'random',
 *     filterRatio: 0.8, batchSize: 64 }, data, runDir: 'runs/r1' });
 *   await train({ config, data, runDir: 'runs/r1', resume: true });   // after an interruption
 *
 * Selectors (selectors/): none, random, saln (features from the cache, pixels or the learner),
 * loss-topk, rho-loss and jest (need a reference model), infobatch (epoch-level). The CLI's path
 * from flags to a run is run.ts (runCliTraining); config.ts validates the flags with zod.
 */
export * from './selectors/index.js';
export { train, evaluate, keepFor, checkDevice, readRunConfig, DEFAULTS, PHASES, type Cumulative, type TrainConfig, type TrainOptions, type TrainResult, type TrainEvent, type Summary, type EpochMetrics, type Counts, type Phase, type PhaseSeconds } from './trainer.js';
export { saveCheckpoint, loadCheckpoint, CHECKPOINT_FILE, type CheckpointState } from './checkpoint.js';
export { buildLearner, LEARNERS, TinyCNN, type Learner } from './models.js';
export { loaderSource, tensorSource, type BatchSource, type BatchLike, type TrainData } from './source.js';
export { drawnBatchSize, SELECTION_MODES, LR_SCALINGS, DEVICES, type SelectionMode, type LrScaling, type TrainDevice } from './modes.js';
export { budgetReached, type Budget, type StoppedBy } from './budget.js';
export { crossesMultiple, type ValPoint } from './eval-every.js';
export { writeSelectionExamples, exampleKey, EXAMPLES_FILE, type SelectionExample } from './examples.js';
export { ratioAt, SCHEDULES, type FilterSchedule, type ScheduleKind } from './schedule.js';
export { balancedSubset, runCliTraining, type RunIO } from './run.js';
export { parseCliConfig, cliConfigSchema, DATASETS, type CliConfig } from './config.js';
