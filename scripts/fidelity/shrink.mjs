#!/usr/bin/env node
// How much JPEG shrink-on-load costs in fidelity: memery's 224x224 crops of 2-20 MP JPEGs at each
// shrinkMargin against PIL's reference crops (mean absolute difference on the 0-255 scale).
// usage: npm run build:ts && node scripts/fidelity/shrink.mjs   (needs /usr/bin/python3 with PIL)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeCrops } from '../../dist/ts/native/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.MEMERY_SHARED ?? resolve(root, '..', 'shared');
const out = mkdtempSync(join(tmpdir(), 'memery-fidelity-'));
execFileSync('/usr/bin/python3', [join(root, 'scripts', 'fidelity', 'pil_reference.py'), shared, out], { stdio: 'inherit' });
const names = readdirSync(join(out, 'big')).sort();
const refs = await decodeCrops(names.map((n) => join(out, 'ref', `${n}.png`)), { shrinkOnLoad: false });
const PX = 224 * 224 * 3;
const cases = [['no shrink-on-load', { shrinkOnLoad: false }], ...[1.5, 2, 3, 4].map((m) => [`shrinkMargin ${m}`, { shrinkMargin: m }])];
for (const [label, spec] of cases) {
  const ours = await decodeCrops(names.map((n) => join(out, 'big', n)), spec);
  let total = 0;
  let worst = 0;
  names.forEach((_, i) => {
    let d = 0;
    for (let p = 0; p < PX; p++) d += Math.abs(ours.data[i * PX + p] - refs.data[i * PX + p]);
    d /= PX;
    total += d;
    worst = Math.max(worst, d);
  });
  console.log(`${label.padEnd(18)} mean ${(total / names.length).toFixed(3)}  worst ${worst.toFixed(3)}  (${names.length} JPEGs)`);
}
rmSync(out, { recursive: true, force: true });
