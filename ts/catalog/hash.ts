import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { MemeryError } from '../errors.js';
import { DEFAULT_MAX_FILE_BYTES } from '../native/image-encoder.js';


/** Length of a content hash (hex characters of SHA-256 kept). */
export const HASH_HEX_CHARS = 32;

/**
 * Content hash of a file (SHA-256 of its bytes, hex, first 32 chars), streamed in 1 MiB reads so a
 * large file never sits in memory. Identifies content across moves and copies, so a moved file
 * reuses its vector instead of being encoded again. Refuses files over `maxBytes` (E_TOO_LARGE)
 * before reading them.
 */
export async function contentHash(path: string, maxBytes = DEFAULT_MAX_FILE_BYTES): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new MemeryError('E_IO', `Expected a regular file but ${path} is not one`, { path });
    if (st.size > maxBytes) throw tooLarge(path, st.size, maxBytes);
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    let total = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw tooLarge(path, total, maxBytes); // grew while being read
      hash.update(buf.subarray(0, bytesRead));
    }
    return hash.digest('hex').slice(0, HASH_HEX_CHARS);
  } finally {
    await fh.close();
  }
}

function mib(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : `${Math.round(n / (1 << 20))} MiB`;
}

export function tooLarge(path: string, size: number, maxBytes = DEFAULT_MAX_FILE_BYTES): MemeryError {
  return new MemeryError('E_TOO_LARGE', `Expected an image of at most ${mib(maxBytes)} but ${path} is ${mib(size)}`, {
    path,
    hint: 'Files this large are not indexed; the limit is maxFileBytes in config.json.',
  });
}
