/**
 * The CLI's argument parsers, shared by every command: commander calls them on the flag's text
 * and turns an InvalidArgumentError into "option '--x <n>' argument 'y' is invalid. <message>"
 * (exit code 2).
 */
import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from 'commander';
import { MAX_THREADS } from '../train/options.js';

const INTEGER = /^\s*\d+\s*$/;

/** An integer >= 1. */
export function positiveInt(text: string): number {
  const v = Number(text);
  if (!INTEGER.test(text) || !(v >= 1) || !Number.isSafeInteger(v)) throw new InvalidArgumentError('Expected an integer >= 1.');
  return v;
}

/** An integer >= 0. */
export function nonNegInt(text: string): number {
  const v = Number(text);
  if (!INTEGER.test(text) || !Number.isSafeInteger(v)) throw new InvalidArgumentError('Expected an integer >= 0.');
  return v;
}

/** A finite number. */
export function number(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError('Expected a number.');
  return v;
}

/** Threads beyond this buy nothing and, at 100,000, hang the engine creating them (the run options' bound too). */
export const MAX_THREADS_CAP = MAX_THREADS;

/** The most --threads accepted here: 4 per core, at most MAX_THREADS_CAP. */
export function maxThreads(cores: number = availableParallelism()): number {
  return Math.max(1, Math.min(MAX_THREADS_CAP, 4 * cores));
}

/** --threads: an integer between 1 and maxThreads(). */
export function threads(text: string): number {
  const v = Number(text);
  const max = maxThreads();
  if (!INTEGER.test(text) || !(v >= 1 && v <= max)) {
    throw new InvalidArgumentError(`Expected an integer between 1 and ${max} (4 threads per core of this machine's ${availableParallelism()}, at most ${MAX_THREADS_CAP}).`);
  }
  return v;
}

/** A byte count: an integer, or one with a K, M or G suffix (powers of 1024): 64M. */
export function byteSize(text: string): number {
  const m = /^\s*(\d+)\s*([KMG]i?B?)?\s*$/i.exec(text);
  if (m === null) throw new InvalidArgumentError('Expected a size in bytes: 1048576, 512K, 64M or 2G.');
  const unit = (m[2] ?? '').charAt(0).toUpperCase();
  const v = Number(m[1]) * (unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1);
  if (!(v >= 1) || !Number.isSafeInteger(v)) throw new InvalidArgumentError('Expected a size of at least 1 byte.');
  return v;
}

/** --device: cpu, cuda or cuda:N (whether CUDA is there is checked when the engine loads). */
export function device(text: string): string {
  if (!/^(cpu|cuda(:\d+)?)$/.test(text)) throw new InvalidArgumentError('Expected cpu, cuda or cuda:N.');
  return text;
}

/** The parser for a run option of this type and lower bound (range checks beyond it are the spec's). */
export function parseFor(type: 'int' | 'number', min: number | null): (text: string) => number {
  if (type === 'number') return number;
  return min !== null && min >= 1 ? positiveInt : nonNegInt;
}
