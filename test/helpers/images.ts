import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { saveRgb } from '../../ts/native/index.js';

export const COLOURS: Record<string, [number, number, number]> = {
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
  white: [255, 255, 255],
  black: [0, 0, 0],
  purple: [128, 0, 128],
  orange: [255, 165, 0],
};

export function tempDir(prefix = 'memery-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A solid-colour image with a little noise, written by libvips (PNG or JPEG by extension). */
export async function writeSolid(path: string, rgb: [number, number, number], w = 64, h = 48): Promise<void> {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.max(0, Math.min(255, rgb[c]! + ((i * 7 + c * 13) % 9) - 4));
  }
  await saveRgb(data, w, h, path);
}

/** Writes one image per colour into `dir`, returns colour -> path. */
export async function writeColourSet(dir: string, ext = 'png'): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, rgb] of Object.entries(COLOURS)) {
    const p = join(dir, `${name}.${ext}`);
    await writeSolid(p, rgb, 80 + name.length * 10, 60);
    out[name] = p;
  }
  return out;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A small, valid PNG whose header claims width x height pixels (a decompression bomb). */
export function writePngBomb(path: string, width = 30000, height = 30000): void {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const row = Buffer.alloc(1 + width * 3); // one row of zeros; the rest is missing
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(row)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  writeFileSync(path, png);
}
