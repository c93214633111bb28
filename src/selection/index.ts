/** Sample selection: SALN's spectral in-batch selection and its parts; the k-center and CRAIG coresets. */
export {
  selectSpectral, checkOptions, keptCount, rankByScore, AUTO_LANCZOS_MIN_N,
  type SpectralOptions, type SpectralSelection, type FeatureMatrix, type SolverKind,
} from './spectral.js';
export { cosineSimilarity, normalizeRows, gram, releaseWorkspace } from './cosine.js';
export { denseLaplacian, gramLaplacian, graphWeights, type LaplacianKind, type LaplacianOperator, type GraphOptions } from './laplacian.js';
export { fiedlerEigh, fiedlerLanczos, type FiedlerResult, type LanczosOptions } from './fiedler.js';
export { kCenterGreedy, facilityLocation, normalizedSquaredDistances, type FacilityLocationResult } from './coreset.js';
export { SelectionLimitError } from './errors.js';
export { denseGraphBytes, eighBytes, selectionMemoryLimit, checkSelectionMemory } from './memory.js';
