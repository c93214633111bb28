import { InputError } from '../errors.js';

/**
 * SelectionLimitError: a selection the machine cannot afford as asked (eigh on a batch whose n²
 * matrices exceed the memory limit). The user's to fix: a smaller batch, --solver lanczos, or a
 * higher limit. Thrown before anything is allocated.
 */
export class SelectionLimitError extends InputError {
  constructor(message: string) {
    super('config', message, { field: 'solver' });
    this.name = 'SelectionLimitError';
  }
}
