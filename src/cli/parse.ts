/**
 * The command line's argument parsers, shared by every command: each throws commander's
 * InvalidArgumentError, so a bad value exits 2 with the flag named.
 */
import { InvalidArgumentError } from 'commander';

export function positiveInt(text: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !(v >= 1)) throw new InvalidArgumentError('Expected an integer >= 1.');
  return v;
}

export function nonNegInt(text: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text)) throw new InvalidArgumentError('Expected an integer >= 0.');
  return v;
}

export function number(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError('Expected a number.');
  return v;
}

/** The parser for a run option of this type and lower bound (range checks beyond it are the spec's). */
export function parseFor(type: 'int' | 'number', min: number | null): (text: string) => number {
  if (type === 'number') return number;
  return min !== null && min >= 1 ? positiveInt : nonNegInt;
}
