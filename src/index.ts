/**
 * saln's single public entry: the engine (tensors, nn, optim, io), models and features, data,
 * and selection.
 *
 *   import { tensor, nn, optim, models, data, selectSpectral } from 'saln';
 */
export * from './tensor/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as io from './io/index.js';
export * as models from './models/index.js';
export * as features from './features/index.js';
export * as data from './data/index.js';
export * from './selection/index.js';
export * as dist from './dist/index.js';
export * as train from './train/index.js';
export * as reports from './reports/index.js';
