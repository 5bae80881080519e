#!/usr/bin/env node
// What the thumbnail made while indexing costs: CPU-ms per image of ImageEncoder.encodeFiles
// (process.cpuUsage: every thread of this process) with thumbnailSize 0 and THUMB_SIZE, alternated,
// medians over the rounds. The model is the small colour test model, so decoding dominates.
//
//   npm run build:ts && node scripts/bench/thumbnail-cost.mjs [--folder DIR] [--rounds 4]
//
// --folder defaults to the bench corpus's 100 real-size photos (`npm run bench` makes it), else
// ../shared's photos and memes.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setDir } from './corpus.mjs';
import { DIST, SHARED, colourModelDir } from './lib.mjs';

const corpus = setDir('full', 100);
const { values: args } = parseArgs({ options: { folder: { type: 'string' }, rounds: { type: 'string', default: '4' } } });
const folders = args.folder ? [args.folder] : existsSync(corpus) ? [corpus] : [join(SHARED, 'corpus', 'photos'), join(SHARED, 'corpus', 'memes')];
const paths = folders.flatMap((d) => readdirSync(d).map((f) => join(d, f)));

const { ImageEncoder } = await import(pathToFileURL(join(DIST, 'native', 'image-encoder.js')).href);
const { THUMB_SIZE } = await import('@memery/client/protocol');
const enc = await ImageEncoder.load(join(colourModelDir(), 'onnx', 'vision_model.onnx'), { threads: 1 });
const cpu = { 0: [], [THUMB_SIZE]: [] };
let ok = 0;
const run = async (size) => {
  const c0 = process.cpuUsage();
  const r = await enc.encodeFiles(paths, { thumbnailSize: size, decodeThreads: 2, batchSize: 16 });
  const c = process.cpuUsage(c0);
  ok = r.ok.reduce((a, b) => a + b, 0);
  cpu[size].push((c.user + c.system) / 1000 / ok);
};
await run(0); // warm-up
await run(THUMB_SIZE);
cpu[0] = [];
cpu[THUMB_SIZE] = [];
for (let i = 0; i < Number(args.rounds); i++) for (const s of i % 2 ? [THUMB_SIZE, 0] : [0, THUMB_SIZE]) await run(s);
enc.close();
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`${ok} images of ${folders.join(', ')}, ${args.rounds} rounds each`);
console.log(`without thumbnails: ${med(cpu[0]).toFixed(2)} CPU-ms/image (${cpu[0].map((x) => x.toFixed(2)).join(' ')})`);
console.log(`with ${THUMB_SIZE} px:       ${med(cpu[THUMB_SIZE]).toFixed(2)} CPU-ms/image (${cpu[THUMB_SIZE].map((x) => x.toFixed(2)).join(' ')})`);
console.log(`thumbnail cost: ${(med(cpu[THUMB_SIZE]) - med(cpu[0])).toFixed(2)} CPU-ms/image`);
