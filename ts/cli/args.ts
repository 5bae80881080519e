/** Parsers for option values: a bad value is a usage error (exit 2) that names the expected range. */
import { InvalidArgumentError } from 'commander';

function wholeNumber(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`Expected a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}

function decimal(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`Expected a number from ${min} to ${max}.`);
    return n;
  };
}

export const parseLimit = wholeNumber(1, 10_000);
export const parseThreads = wholeNumber(0, 256);
export const parsePort = wholeNumber(0, 65_535);
export const parseSize = wholeNumber(8, 4096);
export const parseThreshold = decimal(-1, 1);
