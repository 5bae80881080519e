/**
 * The one error type memery throws on purpose. Every failure a user can act on carries a stable
 * `code` (for exit codes, JSON output and tests), the file or folder it concerns when there is one,
 * and a `hint` saying what to do about it. Messages follow the pattern
 * "Expected X for Y but received Z" where that fits.
 */

import { ERROR_CODES, type ErrorCode } from '@memery/client/protocol';
import type { IndexFileError } from '@memery/client/schemas';

/** The one list of error codes (library and server alike) lives with the protocol. */
export { ERROR_CODES, type ErrorCode };

/**
 * Failures that say nothing about a file's content (permissions, a flaky disk, a file gone for a
 * moment, memory): the indexer tries such a file again on every run; other failures (E_DECODE,
 * E_TOO_LARGE, ...) only when the file changes.
 */
const RETRIED_EVERY_RUN: ReadonlySet<string> = new Set<ErrorCode>(['E_IO', 'E_NOT_FOUND', 'E_NOMEM', 'E_NATIVE']);
export function retriedEveryRun(code: string | null | undefined): boolean {
  return code != null && RETRIED_EVERY_RUN.has(code);
}

export interface MemeryErrorOptions {
  /** The file or folder the error is about. */
  path?: string;
  /** What the user can do about it. */
  hint?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

export class MemeryError extends Error {
  override name = 'MemeryError';
  code: ErrorCode;
  path?: string;
  hint?: string;

  constructor(code: ErrorCode, message: string, options: MemeryErrorOptions = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    if (options.path !== undefined) this.path = options.path;
    if (options.hint !== undefined) this.hint = options.hint;
  }

  /** Plain object for JSON output (the cause is reduced to its message). */
  toJSON(): { name: string; code: ErrorCode; message: string; path?: string; hint?: string; cause?: string } {
    const out: { name: string; code: ErrorCode; message: string; path?: string; hint?: string; cause?: string } = {
      name: this.name,
      code: this.code,
      message: this.message,
    };
    if (this.path !== undefined) out.path = this.path;
    if (this.hint !== undefined) out.hint = this.hint;
    if (this.cause !== undefined) out.cause = this.cause instanceof Error ? this.cause.message : String(this.cause);
    return out;
  }
}

/** True when `e` is a MemeryError (optionally with the given code). Works across module copies. */
export function isMemeryError(e: unknown, code?: ErrorCode): e is MemeryError {
  if (e instanceof MemeryError) return code === undefined || e.code === code;
  // Duck-typed fallback for errors that crossed a realm or a duplicated module instance.
  if (typeof e !== 'object' || e === null) return false;
  const o = e as { name?: unknown; code?: unknown; message?: unknown };
  if (o.name !== 'MemeryError' || typeof o.message !== 'string') return false;
  if (typeof o.code !== 'string' || !(ERROR_CODES as readonly string[]).includes(o.code)) return false;
  return code === undefined || o.code === code;
}

/**
 * Why a file failed, without the file: what a list shows beside the file's name. A failed file's
 * message names it by its path, as the native addon words it and the catalog keeps it ("Cannot
 * decode /a/b.jpg: VipsJpeg: Premature end of JPEG file"); its reason leaves the path out ("Cannot
 * decode: VipsJpeg: …"), or says "the file" where the path stands in a sentence ("… but the file is
 * 300 MiB"). The one place that does this: clients read `reason` and never take messages apart.
 */
export function failureReason(message: string, path: string): string {
  if (!path || !message.includes(path)) return message;
  return message.split(` ${path}: `).join(': ').split(path).join('the file');
}

/** A failed file as the library reports it (index summaries, status): its message and, beside it, its reason. */
export function fileFailure(f: { path: string; code: string; message: string }): IndexFileError {
  return { path: f.path, code: f.code, message: f.message, reason: failureReason(f.message, f.path) };
}
