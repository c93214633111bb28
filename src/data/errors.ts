import { InputError, type InputErrorWhere } from '../errors.js';

/**
 * DataError: bad input data (a corrupt image under `strict`, a malformed annotation line, a
 * checksum mismatch…). The message names the file, and the line where there is one.
 */
export class DataError extends InputError {
  constructor(message: string, where: InputErrorWhere = {}) {
    super('data', message, where);
    this.name = 'DataError';
  }
}

/** Where warnings go unless a caller passes its own sink. */
export type WarnFn = (message: string) => void;

export const defaultWarn: WarnFn = (m) => void process.stderr.write(`saln: warning: ${m}\n`);
