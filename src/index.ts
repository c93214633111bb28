/**
 * saln's single public entry: the engine (tensors, nn, optim, io), the models, and selection.
 *
 *   import { tensor, nn, optim, models, selectSpectral } from 'saln';
 */
export * from './tensor/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as io from './io/index.js';
export * as models from './models/index.js';
