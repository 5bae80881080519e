import { MemeryError, type ErrorCode } from '../errors.js';

/** Turns an error thrown by the addon (a JS Error with `code` and `path`) into a MemeryError. */
export function fromNative(err: unknown): MemeryError {
  if (err instanceof MemeryError) return err;
  const e = err as { code?: unknown; path?: unknown; message?: unknown };
  const code = (typeof e?.code === 'string' ? e.code : 'E_NATIVE') as ErrorCode;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return new MemeryError(code, message, { path: typeof e?.path === 'string' ? e.path : undefined, cause: err });
}

export async function native<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (err) {
    throw fromNative(err);
  }
}
