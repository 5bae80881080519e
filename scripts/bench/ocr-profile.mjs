#!/usr/bin/env node
// OCR cost profile of memery's engine alone: wall and CPU time (process.cpuUsage: every thread of
// the process) per image over the memes, per-stage timings, lines read and the caption CER, for a
// given set of load / read options. For weighing one lever at a time on a shared machine.
//
//   npm run build:ts && node scripts/bench/ocr-profile.mjs [--load '{"threads":1}'] [--read '{"limit":640}'] [--rounds 2] [--batch 0]
//
// --batch 0 reads all memes in one read() (the indexer's way); --batch 1 one image per read().
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CAPTIONS, captionCer } from './ocr-captions.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: args } = parseArgs({
  options: {
    load: { type: 'string', default: '{}' },
    read: { type: 'string', default: '{}' },
    rounds: { type: 'string', default: '2' },
    batch: { type: 'string', default: '0' },
    n: { type: 'string', default: '1000' },
    memes: { type: 'string', default: process.env.MEMERY_SHARED ? join(process.env.MEMERY_SHARED, 'corpus', 'memes') : join(ROOT, '..', 'shared', 'corpus', 'memes') },
  },
});
const all = readdirSync(args.memes).filter((f) => /\.(jpe?g|png)$/i.test(f) && f !== 'corrupted-file.jpeg').sort();
const files = [...Object.keys(CAPTIONS), ...all.filter((f) => !(f in CAPTIONS))].slice(0, Number(args.n)).map((f) => join(args.memes, f));
const { OcrEngine } = await import(pathToFileURL(join(ROOT, 'dist', 'ts', 'native', 'index.js')).href);

const loadOpts = JSON.parse(args.load);
const readOpts = { profile: true, ...JSON.parse(args.read) };
const c0 = process.cpuUsage();
const t0 = performance.now();
const engine = await OcrEngine.load(loadOpts);
const lc = process.cpuUsage(c0);
console.log(`load ${(performance.now() - t0).toFixed(0)} ms wall, ${((lc.user + lc.system) / 1000).toFixed(0)} ms CPU`);
await engine.read(files.slice(0, 2), readOpts); // warm-up

const B = Number(args.batch);
let wall = 0;
let cpu = 0;
let n = 0;
let lines = 0;
const stage = { decode: 0, detect: 0, recognize: 0, detectRun: 0, recognizeRun: 0 };
let texts = {};
for (let r = 0; r < Number(args.rounds); r++) {
  const groups = B > 0 ? Array.from({ length: Math.ceil(files.length / B) }, (_, i) => files.slice(i * B, i * B + B)) : [files];
  for (const g of groups) {
    const c = process.cpuUsage();
    const t = performance.now();
    const res = await engine.read(g, readOpts);
    wall += performance.now() - t;
    const u = process.cpuUsage(c);
    cpu += (u.user + u.system) / 1000;
    res.forEach((x, i) => {
      if (!x.ok) throw new Error(`${g[i]}: ${x.code} ${x.message}`);
      n++;
      lines += x.lines.length;
      for (const k of Object.keys(stage)) stage[k] += x.timings[k];
      texts[g[i].split('/').pop()] = x.text;
    });
  }
}
const cer = captionCer(texts);
console.log(
  `${files.length} images x ${args.rounds}: ${(wall / n).toFixed(1)} ms/image wall, ${(cpu / n).toFixed(1)} ms/image CPU; ` +
    `stages (wall per image) decode ${(stage.decode / n).toFixed(1)} detect ${(stage.detect / n).toFixed(1)} recognize ${(stage.recognize / n).toFixed(1)} ` +
    `(ONNX Runtime's Run alone: detect ${(stage.detectRun / n).toFixed(1)} recognize ${(stage.recognizeRun / n).toFixed(1)}); ` +
    `${(lines / n).toFixed(2)} lines/image; CER ${(cer.cer * 100).toFixed(2)}% (${cer.edits}/${cer.chars})`,
);
engine.close();
