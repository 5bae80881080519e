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
