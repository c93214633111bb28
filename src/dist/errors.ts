import { InputError, type InputErrorWhere } from '../errors.js';

/**
 * A bad distributed setting the user should fix: an option of initProcessGroup, or one of
 * torchrun's environment variables (RANK, WORLD_SIZE, MASTER_ADDR, ...). Exit code 2 in the CLI.
 */
export class DistConfigError extends InputError {
  constructor(message: string, where: InputErrorWhere = {}) {
    super('config', message, where);
    this.name = 'DistConfigError';
  }
}
