export {
  loadSafetensors, saveSafetensors, parseSafetensors, parseSafetensorsHeader, serializeSafetensors, SAFETENSORS_MAX_HEADER_BYTES,
  type SafetensorsFile, type SafetensorsHeader, type SafetensorsEntry,
} from './safetensors.js';
export { loadNpy, saveNpy, readNpyArray, parseNpy, encodeNpy, NPY_MAX_HEADER_BYTES, type NpyArray } from './npy.js';
export { writeFileAtomic, cleanStaleTemps } from './atomic.js';
export { FileError } from './errors.js';
export { RegularFile, readRegularFile, readRegularText, readRegularFileAsync, regularFileSize, regularFileProblem, fileKind, type ReadOptions } from './files.js';
