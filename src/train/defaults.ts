/**
 * Training defaults as plain data. No engine imports: the CLI reads these for its --help while
 * the native addon stays unloaded.
 */

/** The trainer's defaults (the paper's: SGD with momentum 0.9, lr 0.001, 25 epochs). */
export const DEFAULTS = { epochs: 25, lr: 0.001, momentum: 0.9, weightDecay: 0, seed: 0, filterRatio: 0, featureSource: 'cache', solver: 'auto', saveSelections: false } as const;

/**
 * `saln train`'s defaults for what the command line may leave out; experiments start from them too.
 * Options that are off unless given (budgets, evalEvery) have no entry: absent is their default,
 * so existing run directories' saved configurations still match an experiment's.
 */
export const TRAIN_DEFAULTS = {
  epochs: DEFAULTS.epochs, batchSize: 128, lr: DEFAULTS.lr, momentum: DEFAULTS.momentum, weightDecay: DEFAULTS.weightDecay,
  featureSource: DEFAULTS.featureSource, featureModel: 'resnet50-keras', solver: DEFAULTS.solver, augment: true, saveSelections: DEFAULTS.saveSelections,
} as const;
