import { InputError, type InputErrorWhere } from '../errors.js';

/**
 * ModelError: a model the user asked for that cannot be used as it is: not in the cache and not
 * fetchable (the message gives the command to run), or model files that are malformed (a TF.js
 * manifest that fails its schema, a weight path outside the model's folder).
 */
export class ModelError extends InputError {
  constructor(message: string, where: InputErrorWhere = {}) {
    super('model', message, where);
    this.name = 'ModelError';
  }
}
