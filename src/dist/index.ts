/**
 * Data-parallel training on libtorch's c10d (torch.distributed's core): process groups,
 * collectives, start-up model sync, gradient averaging, DistributedSampler semantics and sharded
 * evaluation. Sits between tensor/nn and train.
 */
export {
  initProcessGroup,
  ProcessGroup,
  distAvailable,
  assertDistAvailable,
  DEFAULT_TIMEOUT_MS,
  BROADCAST_BUCKET_BYTES,
  type Backend,
  type StoreKind,
  type ReduceOp,
  type InitOptions,
} from './process-group.js';
export { readTorchrunEnv, isDistributedLaunch, type TorchrunEnv } from './env.js';
export { DistConfigError } from './errors.js';
export { broadcastModule, verifySameLayout, moduleStateTensors } from './module.js';
export { GradBucketer, assignBuckets, type GradBucketerOptions, type SyncTimings } from './bucketer.js';
export { distributedIndices, distributedNumSamples, type DistributedSamplerOptions } from './sampler.js';
export { shardIndices, reduceSums, reduceRecord, allGatherCat } from './eval.js';
export { allGatherObject, broadcastObject } from './objects.js';
