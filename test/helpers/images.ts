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

/** An RGBA PNG (8-bit, colour type 6) of w x h pixels, each from `pixel(x, y)`. */
export function writeRgbaPng(path: string, w: number, h: number, pixel: (x: number, y: number) => [number, number, number, number]): void {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc(h * (1 + w * 4)); // filter byte 0 (none) per row
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) raw.set(pixel(x, y), y * (1 + w * 4) + 1 + x * 4);
  }
  writeFileSync(
    path,
    Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]),
  );
}

/** `jpeg` with an EXIF block (APP1) whose only tag is Orientation (1-8), right after the SOI marker. */
export function withExifOrientation(jpeg: Buffer, orientation: number): Buffer {
  const tiff = Buffer.alloc(26); // little-endian TIFF header, IFD0 with one entry, no next IFD
  tiff.write('II', 0, 'ascii');
  tiff.writeUInt16LE(42, 2);
  tiff.writeUInt32LE(8, 4);
  tiff.writeUInt16LE(1, 8);
  tiff.writeUInt16LE(0x0112, 10); // Orientation
  tiff.writeUInt16LE(3, 12); // SHORT
  tiff.writeUInt32LE(1, 14);
  tiff.writeUInt16LE(orientation, 18);
  tiff.writeUInt32LE(0, 22);
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const marker = Buffer.from([0xff, 0xe1, 0, 0]);
  marker.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), marker, payload, jpeg.subarray(2)]);
}
