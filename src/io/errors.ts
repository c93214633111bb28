import { InputError, type InputErrorWhere } from '../errors.js';

/**
 * FileError: a file the user gave (or pointed saln at) that cannot be read as what it should be:
 * missing, not a regular file, over a size limit, or malformed (.npy, safetensors, JSON). The
 * message names the file, and the offending key or field where there is one.
 */
export class FileError extends InputError {
  constructor(message: string, where: InputErrorWhere = {}) {
    super('io', message, where);
    this.name = 'FileError';
  }
}
