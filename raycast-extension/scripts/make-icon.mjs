// Draws assets/icon.png (512x512): a photo under a magnifying glass on a violet-to-orange tile.
// pngjs writes the PNG; 4x4 supersampling for smooth edges. Run: node scripts/make-icon.mjs
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";

const SIZE = 512;
const SS = 4;

const hex = (h) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
const mix = (a, b, t) => a.map((v, i) => v + (b[i] - v) * t);

/** Signed distance to a rounded rectangle (negative inside). */
function roundRect(x, y, x0, y0, x1, y1, r) {
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const hw = (x1 - x0) / 2 - r;
  const hh = (y1 - y0) / 2 - r;
  const dx = Math.abs(x - cx) - hw;
  const dy = Math.abs(y - cy) - hh;
  return Math.hypot(Math.max(dx, 0), Math.max(dy, 0)) + Math.min(Math.max(dx, dy), 0) - r;
}
const circle = (x, y, cx, cy, r) => Math.hypot(x - cx, y - cy) - r;
function segment(x, y, ax, ay, bx, by, r) {
  const px = x - ax;
  const py = y - ay;
  const vx = bx - ax;
  const vy = by - ay;
  const t = Math.max(0, Math.min(1, (px * vx + py * vy) / (vx * vx + vy * vy)));
  return Math.hypot(px - vx * t, py - vy * t) - r;
}
/** Inside a triangle (a mountain): negative inside. */
function triangle(x, y, [ax, ay], [bx, by], [cx, cy]) {
  const s = (px, py, qx, qy) => (x - qx) * (py - qy) - (px - qx) * (y - qy);
  const d1 = s(ax, ay, bx, by);
  const d2 = s(bx, by, cx, cy);
  const d3 = s(cx, cy, ax, ay);
  const neg = d1 < 0 || d2 < 0 || d3 < 0;
  const pos = d1 > 0 || d2 > 0 || d3 > 0;
  return neg && pos ? 1 : -1;
}

const VIOLET = hex("#6D28D9");
const PINK = hex("#DB2777");
const ORANGE = hex("#F97316");
const WHITE = [255, 255, 255];
const SKY = hex("#BAE6FD");
const SUN = hex("#FACC15");
const HILL = hex("#16A34A");
const HILL2 = hex("#15803D");
const INK = hex("#1E1B4B");

// The photo card and the glass.
const card = { x0: 92, y0: 108, x1: 372, y1: 332, r: 22 };
const glass = { cx: 330, cy: 318, r: 86, ring: 24 };

function sample(x, y) {
  // Background tile with a diagonal three-stop gradient.
  if (roundRect(x, y, 16, 16, 496, 496, 112) > 0) return null;
  const t = (x + y) / (2 * SIZE);
  let c = t < 0.5 ? mix(VIOLET, PINK, t / 0.5) : mix(PINK, ORANGE, (t - 0.5) / 0.5);

  // Soft shadow under the card.
  if (roundRect(x, y, card.x0 + 8, card.y0 + 14, card.x1 + 8, card.y1 + 14, card.r) < 0) c = mix(c, [0, 0, 0], 0.18);
  // Card: white frame, then the picture.
  if (roundRect(x, y, card.x0, card.y0, card.x1, card.y1, card.r) < 0) {
    c = WHITE;
    if (roundRect(x, y, card.x0 + 16, card.y0 + 16, card.x1 - 16, card.y1 - 16, 10) < 0) {
      c = SKY;
      if (circle(x, y, 170, 170, 28) < 0) c = SUN;
      if (triangle(x, y, [120, 316], [210, 200], [300, 316]) < 0) c = HILL2;
      if (triangle(x, y, [200, 316], [285, 228], [372, 316]) < 0) c = HILL;
    }
  }
  // Glass: a light lens over the picture, a dark ring and handle.
  const d = circle(x, y, glass.cx, glass.cy, glass.r);
  if (d < -glass.ring / 2) c = mix(c, WHITE, 0.35);
  if (Math.abs(d) < glass.ring / 2) c = INK;
  const k = Math.SQRT1_2;
  const hx = glass.cx + (glass.r + glass.ring / 2) * k;
  const hy = glass.cy + (glass.r + glass.ring / 2) * k;
  if (segment(x, y, hx - 6, hy - 6, hx + 46, hy + 46, 20) < 0) c = INK;
  // A highlight on the lens.
  if (Math.abs(circle(x, y, glass.cx, glass.cy, glass.r - 30)) < 5 && x < glass.cx - 20 && y < glass.cy - 20)
    c = mix(c, WHITE, 0.7);
  return c;
}

const rgba = Buffer.alloc(SIZE * SIZE * 4);
for (let py = 0; py < SIZE; py++) {
  for (let px = 0; px < SIZE; px++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let a = 0;
    for (let sy = 0; sy < SS; sy++) {
      for (let sx = 0; sx < SS; sx++) {
        const c = sample(px + (sx + 0.5) / SS, py + (sy + 0.5) / SS);
        if (!c) continue;
        r += c[0];
        g += c[1];
        b += c[2];
        a += 1;
      }
    }
    const o = (py * SIZE + px) * 4;
    if (a > 0) {
      rgba[o] = Math.round(r / a);
      rgba[o + 1] = Math.round(g / a);
      rgba[o + 2] = Math.round(b / a);
      rgba[o + 3] = Math.round((255 * a) / (SS * SS));
    }
  }
}

// 8-bit RGBA, rows unfiltered, zlib's default strategy: the smallest file for this flat artwork
// (pngjs's defaults, adaptive filters and Z_RLE, make it larger).
const png = PNG.sync.write(Object.assign(new PNG({ width: SIZE, height: SIZE }), { data: rgba }), {
  colorType: 6,
  filterType: 0,
  deflateLevel: 9,
  deflateStrategy: 0,
});
const out = join(dirname(fileURLToPath(import.meta.url)), "..", "assets", "icon.png");
writeFileSync(out, png);
console.log(`wrote ${out} (${png.length} bytes)`);
