#!/usr/bin/env node
// What JPEG shrink-on-load costs in fidelity: memery's 224x224 crops at each shrinkMargin against
// PIL's reference crops (mean absolute difference on the 0-255 scale; the bars are mean <= 0.5 and
// worst <= 3.0).
// usage: npm run build:ts && node scripts/fidelity/shrink.mjs ['<JSON array of extra spec objects>']
//   (needs /usr/bin/python3 with PIL). By default: 1-29 MP JPEGs upscaled from ../shared's corpus.
//   MEMERY_FIDELITY_PHOTOS=<folder>: that folder's JPEGs (real photos) instead.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeCrops } from '../../dist/ts/native/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.MEMERY_SHARED ?? resolve(root, '..', 'shared');
const photos = process.env.MEMERY_FIDELITY_PHOTOS;
const out = mkdtempSync(join(tmpdir(), 'memery-fidelity-'));
const py = [join(root, 'scripts', 'fidelity', 'pil_reference.py'), shared, out, ...(photos ? [photos] : [])];
execFileSync('/usr/bin/python3', py, { stdio: 'inherit' });
const names = readdirSync(join(out, 'ref')).map((n) => n.replace(/\.png$/, '')).sort();
const sources = names.map((n) => (photos ? join(photos, n) : join(out, 'big', n)));
const refs = await decodeCrops(names.map((n) => join(out, 'ref', `${n}.png`)), { shrinkOnLoad: false });
const PX = 224 * 224 * 3;
const cases = [
  ['no shrink-on-load', { shrinkOnLoad: false }],
  ...[1, 1.5, 2, 3, 4].map((m) => [`shrinkMargin ${m}`, { shrinkMargin: m }]),
  ...JSON.parse(process.argv[2] ?? '[]').map((spec) => [JSON.stringify(spec), spec]),
];
for (const [label, spec] of cases) {
  const ours = await decodeCrops(sources, spec);
  if (ours.errors.length) throw new Error(JSON.stringify(ours.errors));
  let total = 0;
  let worst = 0;
  let worstName = '';
  names.forEach((name, i) => {
    let d = 0;
    for (let p = 0; p < PX; p++) d += Math.abs(ours.data[i * PX + p] - refs.data[i * PX + p]);
    d /= PX;
    total += d;
    if (d > worst) [worst, worstName] = [d, name];
  });
  console.log(`${label.padEnd(18)} mean ${(total / names.length).toFixed(3)}  worst ${worst.toFixed(3)} (${worstName})  (${names.length} JPEGs)`);
}
rmSync(out, { recursive: true, force: true });
