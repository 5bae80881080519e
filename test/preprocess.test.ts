import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCrops, saveRgb } from '../ts/native/index.js';
import { HAS_SHARED, SHARED_SKIP_REASON, shared } from './helpers/shared.js';

const S = 224;
const PX = S * S * 3;

describe.skipIf(!HAS_SHARED)(`preprocessing against the reference crops ${HAS_SHARED ? '' : SHARED_SKIP_REASON}`, () => {
  const index = HAS_SHARED
    ? (JSON.parse(readFileSync(shared('reference', 'preprocess', 'index.json'), 'utf8')) as Record<
        string,
        { reference?: string; note?: string }
      >)
    : {};

  it('every reference within 3.0 mean abs diff, and 0.5 on average', async () => {
    const entries = Object.entries(index).filter(([, v]) => v.reference);
    expect(entries.length).toBeGreaterThan(5);
    const ours = await decodeCrops(entries.map(([k]) => shared('corpus', 'photos', k)));
    expect(ours.errors).toEqual([]);
    // The reference PNGs are already 224x224: decoding them is the identity.
    const refs = await decodeCrops(entries.map(([, v]) => shared('reference', 'preprocess', v.reference!)), { shrinkOnLoad: false });
    expect(refs.errors).toEqual([]);
    const diffs: Record<string, number> = {};
    entries.forEach(([name], i) => {
      let d = 0;
      for (let p = 0; p < PX; p++) d += Math.abs(ours.data[i * PX + p]! - refs.data[i * PX + p]!);
      diffs[name] = d / PX;
    });
    const mean = Object.values(diffs).reduce((a, b) => a + b, 0) / entries.length;
    console.log('preprocess mean abs diff (0-255):', Object.entries(diffs).map(([k, v]) => `${k}=${v.toFixed(3)}`).join(' '));
    console.log(`preprocess mean over ${entries.length} references: ${mean.toFixed(3)}`);
    for (const [name, d] of Object.entries(diffs)) expect(d, name).toBeLessThanOrEqual(3.0);
    expect(mean).toBeLessThanOrEqual(0.5);
  });

  it('JPEG shrink-on-load at the default margin stays within the bars of the full-size decode', async () => {
    // Without shrink-on-load the crop is PIL's, byte for byte (above); with it (2x and 4x here) it
    // must stay within the same bars. Large JPEGs made from corpus photos (PIL-bicubic enlarged).
    const dir = mkdtempSync(join(tmpdir(), 'memery-shrink-'));
    try {
      const photos = ['astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg'].map((f) => shared('corpus', 'photos', f));
      const paths: string[] = [];
      for (const size of [1100, 1900]) {
        const big = await decodeCrops(photos, { size, shrinkOnLoad: false });
        expect(big.errors).toEqual([]);
        for (let i = 0; i < photos.length; i++) {
          const path = join(dir, `${i}-${size}.jpg`);
          await saveRgb(big.data.subarray(i * size * size * 3, (i + 1) * size * size * 3), size, size, path);
          paths.push(path);
        }
      }
      const full = await decodeCrops(paths, { shrinkOnLoad: false });
      const shrunk = await decodeCrops(paths);
      let total = 0;
      for (let i = 0; i < paths.length; i++) {
        let d = 0;
        for (let p = i * PX; p < (i + 1) * PX; p++) d += Math.abs(full.data[p]! - shrunk.data[p]!);
        d /= PX;
        expect(d, paths[i]).toBeGreaterThan(0); // shrink-on-load was used
        expect(d, paths[i]).toBeLessThanOrEqual(3.0);
        total += d;
      }
      console.log(`shrink-on-load mean abs diff from the full-size decode: ${(total / paths.length).toFixed(3)}`);
      expect(total / paths.length).toBeLessThanOrEqual(0.5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every corpus file decodes or fails with a specific error naming it', async () => {
    for (const folder of ['memes', 'photos']) {
      const files = readdirSync(shared('corpus', folder)).sort();
      const paths = files.map((f) => shared('corpus', folder, f));
      const r = await decodeCrops(paths);
      const failed = new Map(r.errors.map((e) => [e.path, e]));
      for (const e of r.errors) {
        expect(e.code).toMatch(/^E_(DECODE|NOT_FOUND|IO)$/);
        expect(e.message).toContain(e.path);
      }
      if (folder === 'memes') {
        expect([...failed.keys()]).toEqual([shared('corpus', 'memes', 'corrupted-file.jpeg')]);
        expect(failed.get(shared('corpus', 'memes', 'corrupted-file.jpeg'))!.message).toMatch(/not a supported image format/);
      } else {
        // Our choices: truncated JPEG is an error (as the reference); the multi-page TIFF's page 0
        // is unreadable to libvips ("samples out of range"); everything else decodes.
        expect([...failed.keys()].sort()).toEqual(
          [shared('corpus', 'photos', 'multipage_rgb.tif'), shared('corpus', 'photos', 'truncated.jpg')].sort(),
        );
        expect(failed.get(shared('corpus', 'photos', 'truncated.jpg'))!.message).toMatch(/premature end|truncated/i);
      }
      // Decoded files are real images: not all one value.
      paths.forEach((p, i) => {
        if (failed.has(p)) return;
        const row = r.data.subarray(i * PX, (i + 1) * PX);
        let min = 255;
        let max = 0;
        for (const v of row) {
          if (v < min) min = v;
          if (v > max) max = v;
        }
        expect(max - min, p).toBeGreaterThan(0);
      });
    }
  });

  it('decodes the edge cases: 16-bit TIFF (8-bit values in a 16-bit container) kept visible, RGBA alpha dropped, GIF first frame', async () => {
    const r = await decodeCrops([
      shared('corpus', 'photos', 'chessboard_GRAY_U16.tif'),
      shared('corpus', 'photos', 'logo.png'),
      shared('corpus', 'photos', 'no_time_for_that_tiny.gif'),
    ]);
    expect(r.errors).toEqual([]);
    // chessboard: black and white squares survive the 16 -> 8 bit conversion.
    const chess = r.data.subarray(0, PX);
    expect(chess.reduce((a, b) => Math.max(a, b), 0)).toBeGreaterThan(200);
    expect(chess.reduce((a, b) => Math.min(a, b), 255)).toBeLessThan(50);
    // grey input becomes three equal channels
    expect(chess[3 * 1000]).toBe(chess[3 * 1000 + 1]);
  });
});
