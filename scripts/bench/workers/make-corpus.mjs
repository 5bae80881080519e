// Worker: generates the benchmark corpus from ../shared/corpus with sharp (cached, resumable).
//   { kind: 'full', dir, count, sources }: real-size images; file i is
//       i % 20 in {3, 13}: PNG, 1.5-4 MP (screenshot-like: no added noise; 1 in 5 with alpha)
//       i % 20 == 7:       JPEG, 6-12 MP
//       otherwise:         JPEG, 2-4 MP
//     each a random crop of a random source, flipped or not, resized (upscaled) to the target
//     size, colour-jittered, and, for JPEGs, with camera-like gaussian noise (so files have a
//     real photo's entropy, size and decode cost); quality 82-95, 4:2:0, baseline.
//     Every prefix of the sequence has the same mix, so a subset (--quick) is representative.
//   { kind: 'tiny', dir, count, sources }: 64x64 JPEGs, each a distinct crop (re-index test).
// Files are written under a temporary name and renamed, so a killed run leaves no half file.
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { fileName } from '../corpus.mjs';
import { ensureDir, log, rng, workerMain } from '../lib.mjs';

const ASPECTS = [4 / 3, 3 / 2, 16 / 9, 1, 3 / 4, 2 / 3, 9 / 16];

async function loadSources(paths, minSide) {
  const out = [];
  for (const p of paths) {
    try {
      const img = sharp(p, { failOn: 'error', limitInputPixels: 1e8 });
      const m = await img.metadata();
      // 8-bit sources only (16-bit greys come out black through this pipeline), big enough
      if (m.depth !== 'uchar' || Math.min(m.width, m.height) < minSide || (m.pages ?? 1) > 1) continue;
      // decode once to be sure it is usable
      await sharp(p, { failOn: 'error' }).resize(16, 16).raw().toBuffer();
      out.push({ path: p, width: m.width, height: m.height });
    } catch {
      /* not decodable (corrupted, truncated): not a source */
    }
  }
  return out;
}

function plan(i, kind, sources) {
  const r = rng(0x5eed0000 + i * 7919 + (kind === 'tiny' ? 1 : 0));
  const src = sources[Math.floor(r() * sources.length)];
  const k = i % 20;
  const png = kind !== 'tiny' && (k === 3 || k === 13);
  const large = kind !== 'tiny' && k === 7;
  const aspect = kind === 'tiny' ? 1 : ASPECTS[Math.floor(r() * ASPECTS.length)];
  const mp = kind === 'tiny' ? 64 * 64 : (large ? 6 + 6 * r() : png ? 1.5 + 2.5 * r() : 2 + 2 * r()) * 1e6;
  const width = Math.max(8, Math.round(Math.sqrt(mp * aspect)));
  const height = Math.max(8, Math.round(mp / width));
  // crop of the source with the target aspect, 60-100% of the largest that fits (tiny: 10-60%)
  let cw = src.width;
  let ch = Math.round(cw / aspect);
  if (ch > src.height) {
    ch = src.height;
    cw = Math.round(ch * aspect);
  }
  const s = kind === 'tiny' ? 0.1 + 0.5 * r() : 0.6 + 0.4 * r();
  cw = Math.max(4, Math.min(src.width, Math.round(cw * s)));
  ch = Math.max(4, Math.min(src.height, Math.round(ch * s)));
  const left = Math.floor(r() * (src.width - cw + 1));
  const top = Math.floor(r() * (src.height - ch + 1));
  return {
    src,
    png,
    width,
    height,
    crop: { left, top, width: cw, height: ch },
    flop: r() < 0.5,
    flip: r() < 0.1,
    brightness: 0.85 + 0.3 * r(),
    saturation: 0.8 + 0.4 * r(),
    hue: Math.round(-15 + 30 * r()),
    sigma: 8 + 10 * r(),
    quality: Math.round(kind === 'tiny' ? 80 : 82 + 13 * r()),
    alpha: png && r() < 0.2,
  };
}

async function makeOne(i, kind, sources, dir) {
  const name = fileName(i, kind);
  const out = join(dir, name);
  if (existsSync(out)) return false;
  const p = plan(i, kind, sources);
  let img = sharp(p.src.path, { failOn: 'error' }).extract(p.crop);
  if (p.flop) img = img.flop();
  if (p.flip) img = img.flip();
  img = img
    .resize(p.width, p.height, { fit: 'fill' })
    .modulate({ brightness: p.brightness, saturation: p.saturation, hue: p.hue })
    .removeAlpha()
    .toColourspace('srgb');
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  let base = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  if (info.channels === 1) base = base.toColourspace('srgb');
  const tmp = join(dir, `.tmp-${process.pid}-${name}`);
  if (p.png) {
    if (p.alpha) base = base.ensureAlpha(0.9);
    await base.png({ compressionLevel: 6 }).toFile(tmp);
  } else {
    if (kind !== 'tiny') {
      // a 256x256 noise tile repeated over the image (cheap, and as costly to decode as fresh noise)
      const T = 256;
      const noise = await sharp({
        create: { width: T, height: T, channels: 3, background: { r: 128, g: 128, b: 128 }, noise: { type: 'gaussian', mean: 128, sigma: p.sigma } },
      })
        .raw()
        .toBuffer();
      const mixed = await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
        .toColourspace('srgb')
        .composite([{ input: noise, raw: { width: T, height: T, channels: 3 }, tile: true, blend: 'overlay' }])
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      base = sharp(mixed.data, { raw: { width: mixed.info.width, height: mixed.info.height, channels: mixed.info.channels } });
    }
    await base.jpeg({ quality: p.quality, chromaSubsampling: '4:2:0', mozjpeg: false }).toFile(tmp);
  }
  renameSync(tmp, out);
  return true;
}

workerMain(async (cfg) => {
  const { kind, dir, count } = cfg;
  ensureDir(dir);
  sharp.cache(false);
  const sources = await loadSources(cfg.sources, kind === 'tiny' ? 64 : 256);
  if (!sources.length) throw new Error('no decodable source images');
  const have = new Set(readdirSync(dir));
  const todo = [];
  for (let i = 0; i < count; i++) if (!have.has(fileName(i, kind))) todo.push(i);
  log(`corpus ${kind}: ${count - todo.length}/${count} cached in ${dir}; generating ${todo.length} from ${sources.length} sources`);
  const started = performance.now();
  let done = 0;
  let next = 0;
  const lanes = kind === 'tiny' ? 4 : 2;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < todo.length) {
        const i = todo[next++];
        await makeOne(i, kind, sources, dir);
        done++;
        if (done % (kind === 'tiny' ? 2000 : 100) === 0) {
          const s = (performance.now() - started) / 1000;
          log(`corpus ${kind}: ${done}/${todo.length} (${(done / s).toFixed(1)} files/s)`);
        }
      }
    }),
  );
  return { generated: todo.length, seconds: (performance.now() - started) / 1000, sources: sources.length };
});
