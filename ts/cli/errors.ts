/**
 * CLI errors and how they are shown. Exit codes: 0 success, 1 a runtime error (missing folder, model
 * not available, damaged catalog), 2 a usage error (unknown flag, missing argument, bad number),
 * 130 interrupted (Ctrl-C). Expected errors (MemeryError, UsageError) never show a stack trace unless
 * --debug is given.
 */
import type { ErrorBody } from '@memery/client/schemas';
import { isMemeryError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** A bad command line: shown with a pointer to --help, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly hint?: string;
  constructor(message: string, hint?: string) {
    super(message);
    if (hint !== undefined) this.hint = hint;
  }
}

/** Thrown by a command to end with a given exit code after it printed what it had to say. */
export class ExitError extends Error {
  override name = 'ExitError';
  constructor(readonly exitCode: number, message = '') {
    super(message);
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof ExitError) return err.exitCode;
  if (err instanceof UsageError) return EXIT_USAGE;
  if (isMemeryError(err)) {
    if (err.code === 'E_USAGE') return EXIT_USAGE;
    if (err.code === 'E_ABORTED') return EXIT_INTERRUPTED;
    return EXIT_RUNTIME;
  }
  if (isAbortError(err)) return EXIT_INTERRUPTED;
  return EXIT_RUNTIME;
}

export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

export interface ErrorStream {
  write(chunk: string): unknown;
}

/** Prints `err` on `stream` the way the CLI shows errors: "memery: message", then the hint. */
export function printError(err: unknown, stream: ErrorStream, opts: { debug?: boolean; color?: boolean } = {}): void {
  const red = (s: string) => (opts.color ? `\x1b[31m${s}\x1b[0m` : s);
  const dim = (s: string) => (opts.color ? `\x1b[2m${s}\x1b[0m` : s);
  const lines: string[] = [];
  if (err instanceof ExitError) {
    if (err.message) lines.push(`memery: ${err.message}`);
  } else if (err instanceof UsageError) {
    lines.push(`${red('memery: error:')} ${err.message}`);
    lines.push(dim(err.hint ?? 'Run `memery --help` for usage.'));
  } else if (isMemeryError(err, 'E_ABORTED')) {
    lines.push(`memery: ${err.message}`);
  } else if (isMemeryError(err)) {
    const where = err.path && !err.message.includes(err.path) ? ` (${err.path})` : '';
    lines.push(`${red('memery: error:')} ${err.message}${where}`);
    if (err.hint) lines.push(`hint: ${err.hint}`);
  } else if (isAbortError(err)) {
    lines.push('memery: interrupted');
  } else {
    const message = err instanceof Error ? err.message : String(err);
    lines.push(`${red('memery: unexpected error:')} ${message}`);
    if (!opts.debug) lines.push(dim('Run again with --debug for details.'));
  }
  if (opts.debug && err instanceof Error && !(err instanceof ExitError) && err.stack) {
    lines.push(err.stack);
    let cause = (err as { cause?: unknown }).cause;
    while (cause instanceof Error) {
      lines.push(`Caused by: ${cause.stack ?? cause.message}`);
      cause = (cause as { cause?: unknown }).cause;
    }
  }
  if (lines.length) stream.write(`${lines.join('\n')}\n`);
}

/** The error as one JSON line, `{"error":{code,message,hint?,path?}}` (the server's error body). */
export function errorBody(err: unknown): ErrorBody {
  if (isMemeryError(err)) {
    return { error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}), ...(err.path ? { path: err.path } : {}) } };
  }
  if (err instanceof UsageError) return { error: { code: 'E_USAGE', message: err.message, hint: err.hint ?? 'Run `memery --help` for usage.' } };
  if (err instanceof ExitError) return { error: { code: 'E_USAGE', message: err.message || `exit ${err.exitCode}` } };
  if (isAbortError(err)) return { error: { code: 'E_ABORTED', message: 'interrupted' } };
  return { error: { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) } };
}

export function printErrorJson(err: unknown, stream: ErrorStream): void {
  if (err instanceof ExitError && !err.message) return; // the command has said what it had to say
  stream.write(`${JSON.stringify(errorBody(err))}\n`);
}
