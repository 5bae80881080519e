/**
 * The server's safety rules, kept small and testable: the per-install token, the Host check
 * (DNS rebinding), loopback detection, and image sniffing (only image bytes are ever served).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

import { TOKEN_FILE } from '@memery/client/protocol';

/**
 * The per-install token in `<home>/server-token` (created on first use, mode 0600; a file with
 * looser permissions is tightened). 64 hex characters.
 */
export function loadOrCreateToken(home: string): string {
  const file = join(home, TOKEN_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const token = readFileSync(file, 'utf8').trim();
      if (/^[0-9a-f]{32,}$/.test(token)) {
        if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
        return token;
      }
      // Damaged or empty: replace it.
      const fresh = randomBytes(32).toString('hex');
      const fd = openSync(file, 'w', 0o600);
      try {
        writeSync(fd, fresh + '\n');
      } finally {
        closeSync(fd);
      }
      chmodSync(file, 0o600);
      return fresh;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      const fd = openSync(file, 'wx', 0o600);
      const token = randomBytes(32).toString('hex');
      try {
        writeSync(fd, token + '\n');
      } finally {
        closeSync(fd);
      }
      return token;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // raced: read the winner's
    }
  }
  throw new Error(`Cannot create ${file}`);
}

/** Constant-time comparison of a presented token with the real one. */
export function tokenMatches(presented: string | undefined, token: string): boolean {
  if (typeof presented !== 'string' || presented.length !== token.length) return false;
  return timingSafeEqual(Buffer.from(presented), Buffer.from(token));
}

/** True for names and addresses that only reach this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** `host:port` as it appears in a URL (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The Host header values a loopback listener accepts: the loopback names with its port (the port
 * may be left out only when it is 80). Anything else (a rebinding attacker's name, another port)
 * is refused.
 */
export function allowedHosts(boundHost: string, port: number): Set<string> {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]']);
  names.add(isIP(boundHost) === 6 ? `[${boundHost.toLowerCase()}]` : boundHost.toLowerCase());
  const out = new Set<string>();
  for (const n of names) {
    out.add(`${n}:${port}`);
    if (port === 80) out.add(n);
  }
  return out;
}

/** The content type of image bytes, from their signature; undefined when they are not an image memery indexes. */
export function sniffImageType(head: Uint8Array): string | undefined {
  const b = head;
  const at = (i: number, ...bytes: number[]) => bytes.every((v, k) => b[i + k] === v);
  const ascii = (i: number, s: string) => at(i, ...[...s].map((c) => c.charCodeAt(0)));
  if (at(0, 0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'image/gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'image/webp';
  if (ascii(0, 'BM')) return 'image/bmp';
  if (at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a)) return 'image/tiff';
  if (at(0, 0xff, 0x0a) || at(0, 0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a)) return 'image/jxl';
  if (ascii(4, 'ftyp')) {
    const brand = String.fromCharCode(...b.subarray(8, 12));
    if (brand === 'avif' || brand === 'avis') return 'image/avif';
    if (['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'].includes(brand)) return 'image/heic';
  }
  return undefined;
}

export const EXTENSION_OF: Record<string, string> = {
  'image/jpeg': '.jpg',
  'image/png': '.png',
  'image/gif': '.gif',
  'image/webp': '.webp',
  'image/bmp': '.bmp',
  'image/tiff': '.tif',
  'image/jxl': '.jxl',
  'image/avif': '.avif',
  'image/heic': '.heic',
};
