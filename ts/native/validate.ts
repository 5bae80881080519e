import { types } from 'node:util';
import type { z } from 'zod';
import { MemeryError } from '../errors.js';

/** Validates options in JS before they reach C++; errors name the bad key. */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const key = issue.path.join('.') || '(root)';
  throw new MemeryError('E_USAGE', `Invalid ${what}: ${key}: ${issue.message}`);
}

/** What a value is, for "but received X" in messages. */
export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  return typeof v;
}

/** An image input is a path or the encoded bytes; anything else is E_USAGE naming `what`. */
export function assertImageInput(v: unknown, what: string): asserts v is string | Uint8Array {
  if (typeof v !== 'string' && !types.isUint8Array(v)) {
    throw new MemeryError('E_USAGE', `Expected a path (string) or a Buffer for ${what} but received ${kindOf(v)}`);
  }
}
