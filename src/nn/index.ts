export { Module, type StateDict } from './module.js';
export * as F from './functional.js';
export * as init from './init.js';
export { Conv2d, type Conv2dOptions } from './layers/conv.js';
export { BatchNorm2d, type BatchNorm2dOptions } from './layers/batchnorm.js';
export { Linear } from './layers/linear.js';
export { ReLU, ReLU6, Identity, Flatten, MaxPool2d, AdaptiveAvgPool2d, Dropout } from './layers/simple.js';
export { Sequential } from './layers/container.js';
