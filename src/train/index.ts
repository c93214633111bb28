/**
 * Training with in-batch selection: selectors, the fit loop, checkpoints and run directories.
 *
 *   const data = { train: tensorSource(x, labels, ids, { batchSize: 64 }), val: null, test, numClasses: 10 };
 *   const { summary } = await train({ config: { ...DEFAULTS, model: 'resnet18-cifar', method: 'random',
 *     filterRatio: 0.8, batchSize: 64 }, data, runDir: 'runs/r1' });
 *   await train({ config, data, runDir: 'runs/r1', resume: true });   // after an interruption
 *
 * Layout: fit.ts (the loop) and step.ts (score, select, train one batch) with clock.ts and
 * callbacks.ts; train.ts builds a run and calls fit; run-dir.ts owns the run directory;
 * options.ts is the table of run options, spec.ts validates them, run.ts (runTraining) goes from
 * a spec to a finished run. Selectors (selectors/): none, random, saln, loss-topk, rho-loss,
 * jest (need a reference model), infobatch (epoch-level).
 */
export * from './selectors/index.js';
export { train, checkDevice, type TrainOptions, type TrainResult } from './train.js';
export { fit, freshState, type FitOptions, type FitResult } from './fit.js';
export { evaluate, type Evaluation } from './evaluate.js';
export { eventCallback, notify, type FitCallback, type TrainEvent, type TrainStartInfo, type EpochStartInfo, type BatchEndInfo, type BatchKeptInfo, type CheckpointInfo } from './callbacks.js';
export { PhaseClock, type Stopwatch } from './clock.js';
export { PHASES, RUN_DIR_VERSION, type Cumulative, type TrainConfig, type Summary, type EpochMetrics, type Counts, type Phase, type PhaseSeconds } from './records.js';
export { RunDir, RunDirWriter, RunDirError, RUN_FILES, writeTrainIds, type RunFile, type RunStatus } from './run-dir.js';
export { saveCheckpoint, loadCheckpoint, type CheckpointState } from './checkpoint.js';
export { buildLearner, LEARNERS, TinyCNN, type Learner } from './models.js';
export { loaderSource, tensorSource, type BatchSource, type BatchLike, type TrainData } from './source.js';
export { drawnBatchSize, keepFor, SELECTION_MODES, LR_SCALINGS, DEVICES, type SelectionMode, type LrScaling, type TrainDevice } from './modes.js';
export { budgetReached, type Budget, type StoppedBy } from './budget.js';
export { crossesMultiple, type ValPoint } from './eval-every.js';
export { writeSelectionExamples, readSelectionExamples, exampleKey, type SelectionExample, type RecordedExamples, type RecordedBatch } from './examples.js';
export { ratioAt, SCHEDULES, type FilterSchedule, type ScheduleKind } from './schedule.js';
export { TRAIN_OPTIONS, DEFAULTS, MAX_THREADS, flagOf, kebab, optionByKey, optionDefaults, type OptionDef, type RunSpec, type OptionKey } from './options.js';
export { parseRunSpec, runSpecSchema, SpecError, type SpecIssue } from './spec.js';
export { runTraining, DivergedError, type RunTrainingOptions } from './run.js';
export { balancedSubset } from './run-data.js';
export { meanLossGradient, compareGradients, type GradientComparison } from './fidelity.js';
