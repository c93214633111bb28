export { FeatureCache, featureCachePath, featureKeyHash, normalizeKey, FEATURES_FORMAT, type FeatureCacheKey } from './cache.js';
export { extractFeatures, type ExtractOptions, type ExtractResult, type FeatureBatch } from './extract.js';
