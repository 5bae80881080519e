/** An error answered with an HTTP status, and the status of each library error code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { hint?: string; issues?: unknown[] } = {},
  ) {
    super(message);
  }
}

export const STATUS_OF: Partial<Record<string, number>> = {
  E_NOT_FOUND: 404,
  E_USAGE: 400,
  E_CONFIG: 400,
  E_DECODE: 422,
  E_LOCKED: 409,
  E_ABORTED: 499,
  E_MODEL: 503,
  E_OFFLINE: 503,
  E_DOWNLOAD: 503,
};

