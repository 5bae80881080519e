import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * Content hash of a file (SHA-256 of its bytes, hex, first 32 chars). Identifies content across
 * moves and copies, so a moved file reuses its vector instead of being encoded again.
 */
export async function contentHash(path: string): Promise<string> {
  const data = await readFile(path);
  return createHash('sha256').update(data).digest('hex').slice(0, 32);
}
