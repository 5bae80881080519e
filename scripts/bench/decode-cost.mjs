#!/usr/bin/env node
// What decoding at each JPEG shrink-on-load margin costs: CPU-ms per image of
// ImageEncoder.encodeFiles (decode, preprocess and the indexer's thumbnail; process.cpuUsage: every
// thread of this process) with the tiny colour test model, whose inference is ~nothing, one encoder
// per shrinkMargin, alternated round by round; the least of each is printed. The fidelity of each
// margin is scripts/fidelity/shrink.mjs's.
//
//   npm run build:ts && node scripts/bench/decode-cost.mjs [--folder DIR] [--margins 2,1.5,1] [--rounds 3]
//
// --folder defaults to the bench corpus's 300 real-size photos (`npm run bench` makes them).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setDir } from './corpus.mjs';
import { DIST, colourModelDir } from './lib.mjs';

const { values: args } = parseArgs({
  options: { folder: { type: 'string', default: setDir('full', 300) }, margins: { type: 'string', default: '2,1.5,1' }, rounds: { type: 'string', default: '3' } },
});
const paths = readdirSync(args.folder).map((f) => join(args.folder, f));
const margins = args.margins.split(',').map(Number);

const { ImageEncoder } = await import(pathToFileURL(join(DIST, 'native', 'image-encoder.js')).href);
const { THUMB_SIZE } = await import('@memery/client/protocol');
const model = join(colourModelDir(), 'onnx', 'vision_model.onnx');
const encoders = await Promise.all(margins.map((m) => ImageEncoder.load(model, { threads: 1 }, { shrinkMargin: m })));
const cpu = margins.map(() => []);
for (let r = 0; r < Number(args.rounds); r++) {
  for (let i = 0; i < margins.length; i++) {
    const c0 = process.cpuUsage();
    await encoders[i].encodeFiles(paths, { thumbnailSize: THUMB_SIZE, decodeThreads: 2, batchSize: 16 });
    const c = process.cpuUsage(c0);
    cpu[i].push((c.user + c.system) / 1000 / paths.length);
  }
}
for (const e of encoders) e.close();
console.log(`${paths.length} images of ${args.folder}, ${args.rounds} rounds, thumbnails of ${THUMB_SIZE} px`);
margins.forEach((m, i) => console.log(`shrinkMargin ${m}: ${Math.min(...cpu[i]).toFixed(1)} CPU-ms/image (${cpu[i].map((x) => x.toFixed(1)).join(' / ')})`));
