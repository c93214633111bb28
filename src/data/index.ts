/**
 * saln's data pipeline: dataset sources (CIFAR-10 binary and folder forms, Oxford-IIIT Pet, image
 * folders), downloads, the prepared uint8 cache, batched augmentations on the engine, and a
 * seeded loader whose batches carry each sample's stable id.
 */
export { DataError, type WarnFn } from './errors.js';
export { Rng, deriveSeed } from './rng.js';
export { stratifiedSplit, type SplitResult } from './split.js';
export { decodeImage, encodeImage, RESIZE_KERNEL, type DecodeOptions, type DecodedImage, type ResizePolicy } from './decode.js';
export {
  openDataset, classCounts, findCifar10BinDir, readCifarRecords, CIFAR10_CLASSES, CIFAR10_RECORD_BYTES, DATASET_KINDS, IMAGE_EXTENSIONS,
  OXFORD_PETS_CLASSES, type DatasetKind, type DatasetSource, type OpenOptions, type SourceSample, type SplitName,
} from './sources.js';
export { cacheDir as cacheRoot } from '../cache-dir.js';
export { prepareSplit, prepareDataset, cacheKey, PREPARED_VERSION, type PrepareOptions } from './cache.js';
export { PreparedSet, type PreparedIndex, type OpenPreparedOptions } from './prepared.js';
export * from './transforms.js';
export { DataLoader, disposeBatch, type Batch, type DeferredBatch, type LoaderOptions } from './loader.js';
export { download, unpackTarGz, sha256File, type DownloadOptions, type DownloadResult } from './download.js';
export { pullDataset, knownDataset, datasetDir, KNOWN_DATASETS, type KnownDataset, type PullOptions, type PullResult, type Archive } from './pull.js';
export { loadData, defaultSize, type LoadDataOptions, type LoadedData } from './load.js';
