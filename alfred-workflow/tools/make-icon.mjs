/**
 * Draws the workflow's icon (512x512 PNG): a photo under a magnifying glass on a violet-to-blue
 * tile. Shapes as signed distances, 4x4 supersampling; the PNG is written by pngjs.
 *
 *   node alfred-workflow/tools/make-icon.mjs [out.png]   (default alfred-workflow/icon.png)
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';

export const ICON_SIZE = 512;

const hex = (h, a = 1) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16), a];

/** Signed distance to a rounded rectangle centred at (cx, cy) with half sizes hw, hh. */
function roundRect(x, y, cx, cy, hw, hh, r) {
  const qx = Math.abs(x - cx) - hw + r;
  const qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}
const circle = (x, y, cx, cy, r) => Math.hypot(x - cx, y - cy) - r;
function capsule(x, y, ax, ay, bx, by, r) {
  const pax = x - ax;
  const pay = y - ay;
  const bax = bx - ax;
  const bay = by - ay;
  const h = Math.max(0, Math.min(1, (pax * bax + pay * bay) / (bax * bax + bay * bay)));
  return Math.hypot(pax - bax * h, pay - bay * h) - r;
}
/** Inside a triangle (a mountain) as a boolean-ish distance: negative inside. */
function triangle(x, y, [ax, ay], [bx, by], [cx, cy]) {
  const s = (px, py, qx, qy, rx, ry) => (px - rx) * (qy - ry) - (qx - rx) * (py - ry);
  const d1 = s(x, y, ax, ay, bx, by);
  const d2 = s(x, y, bx, by, cx, cy);
  const d3 = s(x, y, cx, cy, ax, ay);
  const neg = d1 < 0 || d2 < 0 || d3 < 0;
  const pos = d1 > 0 || d2 > 0 || d3 > 0;
  return neg && pos ? 1 : -1;
}

/** The colour (premultiplied RGBA, 0..1) of one sample point. */
function sample(x, y) {
  let r = 0;
  let g = 0;
  let b = 0;
  let a = 0;
  const over = ([cr, cg, cb, ca]) => {
    // source-over, straight colour in, premultiplied accumulator
    r = (cr / 255) * ca + r * (1 - ca);
    g = (cg / 255) * ca + g * (1 - ca);
    b = (cb / 255) * ca + b * (1 - ca);
    a = ca + a * (1 - ca);
  };
  // Tile with a vertical gradient.
  if (roundRect(x, y, 256, 256, 244, 244, 108) <= 0) {
    const t = y / 512;
    const top = hex('#8B5CF6');
    const bottom = hex('#2563EB');
    over([top[0] + (bottom[0] - top[0]) * t, top[1] + (bottom[1] - top[1]) * t, top[2] + (bottom[2] - top[2]) * t, 1]);
  } else {
    return [0, 0, 0, 0];
  }
  // The photo: shadow, white card, sky, sun, mountains.
  if (roundRect(x, y, 214, 222, 152, 124, 26) <= 0) over(hex('#1E1B4B', 0.28));
  if (roundRect(x, y, 206, 210, 152, 124, 26) <= 0) over(hex('#F8FAFC'));
  const inPhoto = roundRect(x, y, 206, 210, 130, 102, 12) <= 0;
  if (inPhoto) {
    over(hex('#BAE6FD'));
    if (circle(x, y, 272, 158, 26) <= 0) over(hex('#FACC15'));
    if (triangle(x, y, [70, 312], [160, 176], [250, 312]) < 0) over(hex('#16A34A'));
    if (triangle(x, y, [170, 312], [262, 206], [344, 312]) < 0) over(hex('#22C55E'));
  }
  // The magnifying glass: handle, lens tint, rim.
  if (capsule(x, y, 404, 404, 456, 456, 22) <= 0) over(hex('#0F172A'));
  if (circle(x, y, 332, 332, 74) <= 0) over(hex('#FFFFFF', 0.3));
  const rim = Math.abs(circle(x, y, 332, 332, 86)) - 13;
  if (rim <= 0) over(hex('#0F172A'));
  if (Math.abs(circle(x, y, 332, 332, 86)) - 5 <= 0 && y < 332 && x < 360) over(hex('#FFFFFF', 0.25));
  return [r, g, b, a];
}

export function renderIcon(size = ICON_SIZE) {
  const ss = 4;
  const scale = 512 / size;
  const rgba = Buffer.alloc(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const [sr, sg, sb, sa] = sample((px + (sx + 0.5) / ss) * scale, (py + (sy + 0.5) / ss) * scale);
          r += sr;
          g += sg;
          b += sb;
          a += sa;
        }
      }
      const n = ss * ss;
      const o = (py * size + px) * 4;
      const alpha = a / n;
      rgba[o] = alpha ? Math.round((r / n / alpha) * 255) : 0;
      rgba[o + 1] = alpha ? Math.round((g / n / alpha) * 255) : 0;
      rgba[o + 2] = alpha ? Math.round((b / n / alpha) * 255) : 0;
      rgba[o + 3] = Math.round(alpha * 255);
    }
  }
  const png = new PNG({ width: size, height: size });
  png.data = rgba;
  // 8-bit RGBA, rows unfiltered, zlib's default strategy: the smallest file for this flat artwork
  // (pngjs's defaults, adaptive filters and Z_RLE, nearly double it).
  return PNG.sync.write(png, { colorType: 6, filterType: 0, deflateLevel: 9, deflateStrategy: 0 });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'icon.png');
  writeFileSync(out, renderIcon());
  console.log(`wrote ${out}`);
}
