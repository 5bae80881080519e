#!/usr/bin/env node
// Loads the generated models with onnxruntime-node and checks that they behave:
//   - colour test models (HF and OpenCLIP layouts): the text "red" ranks the red image first, etc.;
//     padding (HF: attention_mask; OpenCLIP: zeros) does not change a text embedding; the
//     embeddings match manifest.json; a text without colour words is not all-zero;
//   - bad models fail to load (or, for the wrong input shape, fail to run a 224x224 image);
//   - bench models (fp32 and int8), batch 1: they load and give finite 512-d embeddings; timings.
// Usage: node scripts/check-models.cjs [--test DIR] [--bench DIR] [--no-bench] [--runs N]
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const ort = require('onnxruntime-node');

const ROOT = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const TEST_DIR = path.resolve(opt('--test', path.join(ROOT, '.cache', 'test-models')));
const BENCH_DIR = path.resolve(opt('--bench', path.join(os.homedir(), '.cache', 'memery-bench-models')));
const NO_BENCH = args.includes('--no-bench');
const RUNS = Number(opt('--runs', '3'));

const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];
const SOT = 49406;
const EOT = 49407;
const IMAGE_COLOURS = {
  red: [1, 0, 0],
  green: [0, 1, 0],
  blue: [0, 0, 1],
  yellow: [1, 1, 0],
  magenta: [1, 0, 1],
  white: [1, 1, 1],
  black: [0, 0, 0],
  purple: [0.5, 0, 0.5],
  orange: [1, 0.5, 0],
  grey: [0.5, 0.5, 0.5],
};

let failures = 0;
function check(ok, msg) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${msg}`);
  if (!ok) failures++;
}

/** [n, 3, size, size] normalised CLIP input, each image a uniform colour. */
function colourImages(colours, size = 224) {
  const plane = size * size;
  const data = new Float32Array(colours.length * 3 * plane);
  colours.forEach((rgb, n) => {
    for (let c = 0; c < 3; c++) data.fill((rgb[c] - MEAN[c]) / STD[c], (n * 3 + c) * plane, (n * 3 + c + 1) * plane);
  });
  return new ort.Tensor('float32', data, [colours.length, 3, size, size]);
}

function rows(tensor) {
  const [n, d] = tensor.dims;
  return Array.from({ length: n }, (_, i) => Array.from(tensor.data.subarray(i * d, (i + 1) * d)));
}
const dot = (a, b) => a.reduce((s, v, i) => s + v * b[i], 0);
const cos = (a, b) => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
const maxAbsDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const finite = (t) => t.data.every(Number.isFinite);
const fmt = (v) => '[' + v.map((x) => x.toFixed(4)).join(', ') + ']';

function int64(ids2d, len) {
  const data = new BigInt64Array(ids2d.length * len);
  ids2d.forEach((ids, n) => ids.forEach((id, i) => (data[n * len + i] = BigInt(id))));
  return new ort.Tensor('int64', data, [ids2d.length, len]);
}
function int32(ids2d, len) {
  const data = new Int32Array(ids2d.length * len);
  ids2d.forEach((ids, n) => ids.forEach((id, i) => (data[n * len + i] = id)));
  return new ort.Tensor('int32', data, [ids2d.length, len]);
}

function rankCheck(label, words, textEmb, imageNames, imageEmb) {
  for (let w = 0; w < words.length; w++) {
    const sims = imageEmb.map((e) => cos(textEmb[w], e));
    const order = sims.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0]);
    const want = words[w] === 'gray' ? 'grey' : words[w];
    const top = imageNames[order[0][1]];
    check(
      top === want && order[0][0] > order[1][0] + 1e-6,
      `${label}: "${words[w]}" -> ${order
        .slice(0, 3)
        .map(([s, i]) => `${imageNames[i]} ${s.toFixed(3)}`)
        .join(', ')}`,
    );
  }
}

async function checkColourModel(name, layout) {
  const manifest = JSON.parse(fs.readFileSync(path.join(TEST_DIR, 'manifest.json'), 'utf8'));
  const m = manifest.models[name];
  const dir = path.join(TEST_DIR, m.path);
  const vocab = JSON.parse(fs.readFileSync(path.join(dir, layout === 'hf' ? 'vocab.json' : 'textual/tokenizer.json'), 'utf8'));
  const tokenId = (w) => (layout === 'hf' ? vocab : vocab.model.vocab)[w + '</w>'];
  const vision = await ort.InferenceSession.create(path.join(dir, m.files.vision));
  const text = await ort.InferenceSession.create(path.join(dir, m.files.text));
  console.log(`\n== ${name}: vision ${vision.inputNames}->${vision.outputNames}, text ${text.inputNames}->${text.outputNames}`);

  const imageNames = Object.keys(IMAGE_COLOURS);
  const imgOut = await vision.run({ [m.vision.input]: colourImages(Object.values(IMAGE_COLOURS)) });
  const imgT = imgOut[m.vision.output];
  check(imgT.dims[0] === imageNames.length && imgT.dims[1] === m.embedDim && finite(imgT), `image embeddings ${JSON.stringify(imgT.dims)} finite`);
  const imageEmb = rows(imgT);
  console.log(`     red image -> ${fmt(imageEmb[0])}`);

  const words = Object.keys(m.colours);
  for (const w of words) check(tokenId(w) === m.colours[w].id, `token id of ${w} = ${m.colours[w].id}`);
  const seqs = words.map((w) => [SOT, m.colours[w].id, EOT]);
  let run;
  if (layout === 'hf') {
    run = async (ids2d, len, pad = EOT) => {
      const padded = ids2d.map((ids) => ids.concat(Array(len - ids.length).fill(pad)));
      const mask = ids2d.map((ids) => ids.map(() => 1).concat(Array(len - ids.length).fill(0)));
      const out = await text.run({ input_ids: int64(padded, len), attention_mask: int64(mask, len) });
      return out[m.text.output];
    };
  } else {
    run = async (ids2d) => (await text.run({ text: int32(ids2d, 77) }))[m.text.output];
  }
  const txtT = await run(seqs, layout === 'hf' ? 3 : 77);
  check(txtT.dims[0] === words.length && txtT.dims[1] === m.embedDim && finite(txtT), `text embeddings ${JSON.stringify(txtT.dims)} finite`);
  const textEmb = rows(txtT);
  console.log(`     "red"     -> ${fmt(textEmb[0])}`);
  const diffs = words.map((w, i) => maxAbsDiff(textEmb[i], m.expectedEmbeddings[w]));
  check(Math.max(...diffs) < 1e-5, `text embeddings match manifest.expectedEmbeddings (max diff ${Math.max(...diffs).toExponential(2)})`);
  const imgDiff = Math.max(...imageNames.map((c, i) => maxAbsDiff(imageEmb[i], m.expectedEmbeddings[c])));
  check(imgDiff < 1e-5, `image embeddings match manifest.expectedEmbeddings (max diff ${imgDiff.toExponential(2)})`);
  rankCheck(name, words, textEmb, imageNames, imageEmb);

  if (layout === 'hf') {
    const red = [[SOT, m.colours.red.id, EOT]];
    const a = rows(await run(red, 3))[0];
    const b = rows(await run(red, 77, EOT))[0];
    const c = rows(await run(red, 77, 0))[0];
    check(maxAbsDiff(a, b) < 1e-6 && maxAbsDiff(a, c) < 1e-6, `"red" unpadded == padded to 77 with 49407 / 0 and mask 0 (diffs ${maxAbsDiff(a, b)}, ${maxAbsDiff(a, c)})`);
  }
  const dog = ['a', 'photo', 'of', 'a', 'dog'].map(tokenId);
  const dogEmb = rows(await run([[SOT, ...dog, EOT]], layout === 'hf' ? 7 : 77))[0];
  check(dogEmb.some((v) => v !== 0) && dogEmb.every(Number.isFinite), `"a photo of a dog" (no colour word) is not all-zero: ${fmt(dogEmb)}`);
  const mixed = rows(await run([[SOT, tokenId('a'), m.colours.red.id, tokenId('car'), EOT]], layout === 'hf' ? 5 : 77))[0];
  check(maxAbsDiff(mixed, textEmb[0]) < 1e-6, `"a red car" embeds like "red"`);
}

async function expectLoadFailure(file) {
  try {
    await ort.InferenceSession.create(file);
    check(false, `${path.relative(TEST_DIR, file)} should not load`);
  } catch (e) {
    check(true, `${path.relative(TEST_DIR, file)} fails to load: ${String(e.message).split('\n')[0].slice(0, 120)}`);
  }
}

async function checkBad() {
  console.log('\n== bad models');
  await expectLoadFailure(path.join(TEST_DIR, 'bad', 'not-onnx.onnx'));
  await expectLoadFailure(path.join(TEST_DIR, 'bad', 'empty.onnx'));
  for (const [dirName, desc] of [
    ['wrong-shape', '[batch,3,100,100]'],
    ['wrong-rank', '[batch,150528]'],
  ]) {
    const file = path.join(TEST_DIR, 'bad', dirName, 'onnx', 'vision_model.onnx');
    const s = await ort.InferenceSession.create(file);
    const meta = s.inputMetadata ? JSON.stringify(s.inputMetadata[0]?.shape ?? s.inputMetadata) : '(no inputMetadata in this onnxruntime-node)';
    check(true, `bad/${dirName} loads; declared input ${desc}; metadata shape ${meta}`);
    try {
      await s.run({ pixel_values: colourImages([[1, 0, 0]]) });
      check(false, `bad/${dirName} should reject a [1,3,224,224] input`);
    } catch (e) {
      check(true, `bad/${dirName} rejects [1,3,224,224]: ${String(e.message).split('\n')[0].slice(0, 110)}`);
    }
  }
}

function pseudoRandomImage(seed) {
  const data = new Float32Array(3 * 224 * 224);
  let x = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const c = Math.floor(i / (224 * 224));
    data[i] = (x / 2 ** 32 - MEAN[c]) / STD[c];
  }
  return new ort.Tensor('float32', data, [1, 3, 224, 224]);
}

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return [r, Number(process.hrtime.bigint() - t0) / 1e6];
}

async function checkBench() {
  const results = {};
  for (const variant of ['fp32', 'int8']) {
    const dir = path.join(BENCH_DIR, `vit-b32-${variant}`, 'onnx');
    if (!fs.existsSync(dir)) {
      console.log(`\n== bench ${variant}: ${dir} not found (run scripts/make-bench-models.py); skipped`);
      continue;
    }
    console.log(`\n== bench vit-b32-${variant}`);
    const so = { graphOptimizationLevel: 'all', intraOpNumThreads: os.availableParallelism?.() ?? os.cpus().length };
    const [vision, tv] = await timed(() => ort.InferenceSession.create(path.join(dir, 'vision_model.onnx'), so));
    const [text, tt] = await timed(() => ort.InferenceSession.create(path.join(dir, 'text_model.onnx'), so));
    console.log(`     session create: vision ${tv.toFixed(0)} ms, text ${tt.toFixed(0)} ms`);
    const img = pseudoRandomImage(42);
    let out;
    const vt = [];
    for (let i = 0; i < RUNS + 1; i++) {
      const [o, ms] = await timed(() => vision.run({ pixel_values: img }));
      out = o;
      if (i > 0) vt.push(ms);
    }
    const ie = out.image_embeds;
    check(ie.dims.join() === '1,512' && finite(ie) && ie.data.some((v) => v !== 0), `vision image_embeds ${JSON.stringify(ie.dims)} finite; batch 1 ${Math.min(...vt).toFixed(1)} ms (best of ${RUNS})`);
    const ids = [SOT, 320, 1125, 539, 320, 1929, EOT]; // "a photo of a dog"
    const mask = ids.map(() => 1);
    const tt2 = [];
    for (let i = 0; i < RUNS + 1; i++) {
      const [o, ms] = await timed(() => text.run({ input_ids: int64([ids], ids.length), attention_mask: int64([mask], ids.length) }));
      out = o;
      if (i > 0) tt2.push(ms);
    }
    const te = out.text_embeds;
    check(te.dims.join() === '1,512' && finite(te) && te.data.some((v) => v !== 0), `text text_embeds ${JSON.stringify(te.dims)} finite; seq ${ids.length} ${Math.min(...tt2).toFixed(1)} ms (best of ${RUNS})`);
    const padded = ids.concat(Array(77 - ids.length).fill(EOT));
    const pmask = mask.concat(Array(77 - ids.length).fill(0));
    const [po, pms] = await timed(() => text.run({ input_ids: int64([padded], 77), attention_mask: int64([pmask], 77) }));
    const d = maxAbsDiff(Array.from(te.data), Array.from(po.text_embeds.data));
    const pc = cos(Array.from(te.data), Array.from(po.text_embeds.data));
    if (variant === 'fp32') {
      check(d < 1e-4, `text padded to 77 (mask 0) gives the same embedding (max diff ${d.toExponential(2)}; ${pms.toFixed(1)} ms)`);
    } else {
      // dynamic quantisation computes one activation scale over the whole [batch, sequence, width]
      // tensor, padding included, so padding shifts int8 results slightly (as with quantize_dynamic)
      check(pc > 0.99, `text padded to 77 (mask 0) gives nearly the same embedding (cosine ${pc.toFixed(5)}; ${pms.toFixed(1)} ms)`);
    }
    const b4 = new ort.Tensor('float32', new Float32Array(4 * 3 * 224 * 224).fill(0.1), [4, 3, 224, 224]);
    const [bo, bms] = await timed(() => vision.run({ pixel_values: b4 }));
    check(bo.image_embeds.dims.join() === '4,512' && finite(bo.image_embeds), `vision batch 4 -> ${JSON.stringify(bo.image_embeds.dims)} (${bms.toFixed(0)} ms)`);
    results[variant] = { image: Array.from(ie.data), text: Array.from(te.data) };
  }
  if (results.fp32 && results.int8) {
    const ci = cos(results.fp32.image, results.int8.image);
    const ct = cos(results.fp32.text, results.int8.text);
    check(ci > 0.9 && ct > 0.9, `int8 vs fp32 cosine: image ${ci.toFixed(4)}, text ${ct.toFixed(4)}`);
  }
}

(async () => {
  console.log(`onnxruntime-node ${require('onnxruntime-node/package.json').version}; test models ${TEST_DIR}`);
  if (!fs.existsSync(path.join(TEST_DIR, 'manifest.json'))) {
    console.error(`${TEST_DIR}/manifest.json not found: run /usr/bin/python3 scripts/make-test-models.py first`);
    process.exit(2);
  }
  await checkColourModel('colour-hf', 'hf');
  await checkColourModel('colour-openclip', 'openclip');
  await checkBad();
  if (!NO_BENCH) await checkBench();
  console.log(failures ? `\n${failures} check(s) FAILED` : '\nall checks passed');
  process.exit(failures ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
