/**
 * The CLI's client of a running `memery serve`: @memery/client's, with every answer checked against
 * its schema. Its errors carry the server's code unchanged (ServerError: name 'MemeryError', so
 * isMemeryError() and the CLI's exit codes treat them as the library's own).
 */
import { findServer as find, type ServerClient } from '@memery/client/client';

export { ServerClient, ServerError, ServerUnavailable, type ServerClientOptions } from '@memery/client/client';

/** The server running for `home`, or undefined (socket first, then TCP with the token). */
export function findServer(home: string, opts: { timeoutMs?: number } = {}): Promise<ServerClient | undefined> {
  return find(home, { ...opts, validate: true });
}
