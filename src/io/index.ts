export { loadSafetensors, saveSafetensors, parseSafetensors, serializeSafetensors, type SafetensorsFile } from './safetensors.js';
export { loadNpy, saveNpy, readNpyArray, parseNpy, encodeNpy, type NpyArray } from './npy.js';
export { writeFileAtomic } from './atomic.js';
