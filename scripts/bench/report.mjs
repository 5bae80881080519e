// The table: one row per figure, with the goal from issue 6 and whether it was met.
import { fmtBytes } from './lib.mjs';

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const ms = (x) => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ms` : 'n/a');
const n0 = (x) => x.toLocaleString('en-US');
const sizeLabel = (n) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);

/** 'met' or 'MISSED (...)': for "at least" goals (higher is better) and "at most" goals. */
function atLeast(value, goal, unit = '') {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= goal ? 'met' : `MISSED by ${(((goal - value) / goal) * 100).toFixed(0)}% (${f2(value)}${unit} < ${goal}${unit})`;
}
function atMost(value, goal, unit = '') {
  if (!Number.isFinite(value)) return 'n/a';
  return value <= goal ? 'met' : `MISSED by ${(((value - goal) / goal) * 100).toFixed(0)}% (${f2(value)}${unit} > ${goal}${unit})`;
}

function settingsLabel(s) {
  if (!s) return '';
  return `batch ${s.batchSize}, decodeThreads ${s.decodeThreads}, threads ${s.threads}`;
}

export function buildRows(R, ctx) {
  const rows = [];
  const add = (id, measure, result, goal = '', status = '') => rows.push([id, measure, result, goal, status]);
  const fail = (id, key) => R[key]?.error && add(id, `${key}: failed`, R[key].error.slice(0, 80));

  // 0. the headline
  const H = R.headline;
  if (H?.bestSeconds) {
    add('0', `memery index vs the obvious stack (sharp + onnxruntime-node), whole process, ${H.files} real-size images, best of ${H.rounds} alternated`, `memery ${f1(H.imagesPerSecond.memery)} img/s, obvious ${f1(H.imagesPerSecond.obvious)} img/s: ${f2(H.ratio)}x`, '>= 1.15x', atLeast(H.ratio, 1.15, 'x'));
    add('0', `memery index int8 vs the obvious stack fp32 (same run)`, `${f1(H.imagesPerSecond.memeryInt8)} img/s: ${f2(H.ratioInt8)}x`, '>= 2.3x', atLeast(H.ratioInt8, 2.3, 'x'));
    if (H.floor) {
      const F = H.floor;
      add('', `  floor: model alone (1 thread) + decode, preprocess, thumbnail alone, every core busy, nothing else`, `fp32 ${f1(F.modelCpuMs.fp32)} + ${f1(F.decodeCpuMs)} CPU-ms/img: at most ${f1(F.imagesPerSecond.memery)} img/s = ${f2(F.ratio)}x; int8 ${f1(F.modelCpuMs.int8)} + ${f1(F.decodeCpuMs)}: at most ${f1(F.imagesPerSecond.memeryInt8)} img/s = ${f2(F.ratioInt8)}x`);
    }
  } else fail('0', 'headline');

  // 10. OCR
  const O = R.ocr;
  if (O?.engines) {
    const e = O.engines;
    add('10', `OCR per meme: memery vs @gutenye/ocr-node (same PP-OCRv4 files, ${e.threads} threads, ${e.files} memes alternated)`, `${f0(e.memery.msPerImage)} vs ${f0(e.gutenye.msPerImage)} ms/image: ${f2(e.ratio)}x (one read() of all: ${f2(e.ratioBatch)}x); CER ${(e.memery.cer * 100).toFixed(2)}% (${e.cerChars} chars)${e.memery.cerSpaced === undefined ? '' : `, counting spaces ${(e.memery.cerSpaced * 100).toFixed(2)}% (@gutenye/ocr-node ${(e.gutenye.cerSpaced * 100).toFixed(2)}%)`}`, '>= 5x', atLeast(e.ratio, 5, 'x'));
    if (e.floor) add('', `  floor: the two models' Run alone, one thread (${e.floor.files} memes)`, `${f0(e.floor.msPerImage)} ms/image: on ${e.threads} cores no OCR of these files beats ${f0(e.floor.msPerImage / e.threads)} ms/image, i.e. ${f2(e.floor.bestRatio)}x @gutenye/ocr-node at most`);
    if (O.index) add('10', 'memery index of the meme folder, OCR on vs off (whole process, best of 2)', `${f1(O.index.on)} s vs ${f1(O.index.off)} s: ${f2(O.index.ratio)}x`, '<= 1.6x', atMost(O.index.ratio, 1.6, 'x'));
    if (O.index?.floorRatio) add('', `  floor: OCR off + the folder's model time (${f1(e.floorFolder.totalMs / 1000)} CPU-s) over every core`, `${f2(O.index.floorRatio)}x at least`);
  } else fail('10', 'ocr');

  // 1. ceiling
  const C = R.ceiling;
  const ceiling = C?.fp32?.best?.imagesPerSecond;
  if (C?.fp32?.best) {
    const b = C.fp32.best;
    add('1', `Ceiling fp32: raw ORT on tensors, best of batch x threads`, `${f1(ceiling)} img/s (batch ${b.batch}, ${b.threads} threads${b.spinning ? ', spinning' : ''}; ${f0(b.cpuMsPerImage)} CPU-ms/img)`);
    const byT = {};
    for (const r of C.fp32.runs) (byT[r.threads] ??= []).push(`${r.batch}:${f1(r.imagesPerSecond)}`);
    add('', '  per batch (batch:img/s)', Object.entries(byT).map(([t, l]) => `${t} thr ${l.join(' ')}`).join('; '));
    if (C.spinning) add('', '  spinning on (same batch, all threads)', `${f1(C.spinning.imagesPerSecond)} img/s`);
    if (C.ortNode) add('', '  onnxruntime-node on the same tensors', `${f1(C.ortNode.best.imagesPerSecond)} img/s (batch ${C.ortNode.best.batch})`);
    if (C.int8) add('', '  int8 model (memery runtime)', `${f1(C.int8.best.imagesPerSecond)} img/s (batch ${C.int8.best.batch})`);
  } else fail('1', 'ceiling');

  // 2. pipeline
  const P = R.pipeline;
  if (P?.default) {
    const d = P.default;
    const ratio = ceiling ? d.imagesPerSecond / ceiling : NaN;
    add('2', `Index pipeline fp32, defaults (${settingsLabel(d.settings)}), ${n0(d.images)} images`, `${f1(d.imagesPerSecond)} img/s = ${f2(ratio)} of ceiling (${f1(d.seconds)} s; ${f0(d.cpuMsPerImage)} CPU-ms/img)`, '>= 0.90 of ceiling', atLeast(ratio, 0.9));
    if (P.bestFull) {
      const r = P.bestFull.imagesPerSecond / (ceiling ?? NaN);
      add('2', `Index pipeline fp32, best sweep setting (${P.bestFull.label}), ${n0(d.images)} images`, `${f1(P.bestFull.imagesPerSecond)} img/s = ${f2(r)} of ceiling`, '>= 0.90 of ceiling', atLeast(r, 0.9));
    }
    const base = P.sweep?.find((s) => s.label === 'default')?.imagesPerSecond;
    const sweep = (P.sweep ?? []).map((s) => (s.error ? `${s.label}: failed` : `${s.label} ${f1(s.imagesPerSecond)}` + (s.label !== 'default' && base ? ` (${s.imagesPerSecond >= base ? '+' : ''}${(((s.imagesPerSecond - base) / base) * 100).toFixed(0)}%)` : '')));
    add('', `  Memery.index sweep on ${P.corpus.subset.count} images (img/s)`, sweep.join('; '));
    const ebase = P.encodeSweep?.find((s) => s.default)?.imagesPerSecond;
    const es = (P.encodeSweep ?? []).map((s) => (s.error ? `${s.label}: failed` : `${s.label} ${f1(s.imagesPerSecond)}` + (!s.default && ebase ? ` (${s.imagesPerSecond >= ebase ? '+' : ''}${(((s.imagesPerSecond - ebase) / ebase) * 100).toFixed(0)}%)` : '')));
    add('', `  ImageEncoder.encodeFiles sweep on ${P.corpus.subset.count} images (img/s)`, es.join('; '));
  } else fail('2', 'pipeline');

  // 3. alternative
  const A = R.alternative;
  if (A?.sequential?.imagesPerSecond || A?.prefetch?.imagesPerSecond) {
    const mem = P?.default?.imagesPerSecond;
    const memBest = P?.best?.label && P.best.label !== 'default' ? P.best : undefined;
    const i8 = R.int8?.pipeline?.imagesPerSecond;
    for (const [key, what] of [
      ['sequential', 'decode a batch, then run it'],
      ['prefetch', 'next batch decoded while one runs'],
    ]) {
      const a = A[key];
      if (!a?.imagesPerSecond) {
        if (a?.error) add('3', `Alternative (${what}): failed`, a.error.slice(0, 80));
        continue;
      }
      add('3', `Alternative: sharp ${a.sharp} + onnxruntime-node ${a.onnxruntimeNode} (${what}), fp32, batch ${A.batchSize}, ${A.threads} threads, ${n0(a.files)} images`, `${f1(a.imagesPerSecond)} img/s = ${f2(ceiling ? a.imagesPerSecond / ceiling : NaN)} of ceiling (${f0(a.cpuMsPerImage)} CPU-ms/img)`);
      if (mem) {
        const s = mem / a.imagesPerSecond;
        add('3', `  memery fp32 (defaults) speed-up over it`, `${f2(s)}x`, '>= 1.12x', atLeast(s, 1.12, 'x'));
      }
      if (memBest) {
        const s = memBest.imagesPerSecond / a.imagesPerSecond;
        add('3', `  memery fp32 (${memBest.label}) speed-up over it`, `${f2(s)}x`, '>= 1.12x', atLeast(s, 1.12, 'x'));
      }
      if (i8) {
        const s = i8 / a.imagesPerSecond;
        add('3', '  memery int8 (defaults) over it (fp32)', `${f2(s)}x`, '>= 2x', atLeast(s, 2, 'x'));
      }
    }
  } else fail('3', 'alternative');

  // 4. re-index
  const X = R.reindex;
  if (X?.sameProcess) {
    add('4', `Re-index, no changes, ${n0(X.files)} files (colour test model): second index()`, `${f2(X.sameProcess.seconds)} s`, '<= 1 s', atMost(X.sameProcess.seconds, 1, ' s'));
    add('', '  index() in a fresh process / whole `memery index` process', `${f2(X.freshProcess.seconds)} s / ${X.cli ? f2(X.cli.seconds) + ' s' : 'n/a'} (first index: ${f1(X.initial.seconds)} s)`);
  } else fail('4', 'reindex');

  // 5. query
  const Q = R.query;
  if (Q?.sizes) {
    for (const [size, r] of Object.entries(Q.sizes)) {
      const N = Number(size);
      for (const type of ['flat', 'flat-fp16', 'hnsw']) {
        const s = r.cases?.find((c) => c.type === type && c.kind === 'short');
        const l = r.cases?.find((c) => c.type === type && c.kind === 'long');
        let label = `Query ${sizeLabel(N)} ${type}: short / 77-token, p50 (p99)`;
        if (!s) {
          if (type === 'hnsw' && r.builds?.hnsw?.skipped) add('5', label, `not measured: hnsw index not cached (see bench/README.md)`);
          else if (r.error) add('5', label, `failed: ${r.error.slice(0, 60)}`);
          continue;
        }
        let extra = '';
        if (type === 'hnsw' && r.recall?.chosen) {
          extra = `; recall@10 ${f2(r.recall.chosen.recallInDistribution)} (text queries ${f2(r.recall.chosen.recallTextQueries)}), efSearch ${r.recall.chosen.efSearch}`;
          if (r.builds?.hnsw?.buildSeconds) extra += `, built in ${f1(r.builds.hnsw.buildSeconds / 60)} min${r.builds.hnsw.cached ? ' (cached)' : ''}`;
        }
        let goal = '';
        let status = '';
        if (N === 100_000) {
          goal = 'short p50 <= 15 ms';
          status = atMost(s.p50, 15, ' ms');
        } else if (N === 1_000_000) {
          goal = 'short p50 <= 50 ms';
          status = atMost(s.p50, 50, ' ms');
        }
        add('5', label, `${ms(s.p50)} (${ms(s.p99)}) / ${ms(l?.p50)} (${ms(l?.p99)}); search ${ms(s.searchP50)}${extra}`, goal, status);
      }
    }
    const any = Object.values(Q.sizes).find((r) => r.cases?.length);
    if (any) {
      const s = any.cases.find((c) => c.kind === 'short');
      const l = any.cases.find((c) => c.kind === 'long');
      add('', '  text encode alone p50: short / 77-token', `${ms(s?.encodeP50)} / ${ms(l?.encodeP50)} (${any.tokens?.short} / ${any.tokens?.long} ids)`);
    }
  } else fail('5', 'query');

  // 6. cold
  const K = R.cold;
  if (K?.headline?.seconds) {
    add('6', `Cold query, ${n0(K.catalogFiles)}-file catalog: ${K.headline.via}, process start to printed results (median of 5)`, `${f2(K.headline.seconds)} s`, '<= 1.0 s', atMost(K.headline.seconds, 1, ' s'));
    add('', '  library in a fresh process / bare node start', `${f2(K.library?.seconds)} s / ${f2(K.node?.seconds)} s${K.cli?.error ? `; CLI failed: ${K.cli.error.slice(0, 60)}` : ''}`);
    const b = K.breakdown;
    if (b) add('', '  where it goes (ms, fresh process)', `start ${b.processToHere.toFixed(0)}, import ${b.importLibrary.toFixed(0)}, catalog ${b.openCatalog.toFixed(0)}, tokenizer ${b.loadTokenizer.toFixed(0)}, text model load ${b.loadTextModel.toFixed(0)} (int8: ${b.loadTextModelInt8?.toFixed(0) ?? 'n/a'}), encode ${b.encodeQuery.toFixed(0)}, FAISS load ${b.loadIndex.toFixed(0)}, search ${b.search.toFixed(0)}`);
  } else fail('6', 'cold');

  // 7. resources
  const M = R.resources;
  if (M?.rss) {
    add('7', `Peak RSS while indexing fp32 (${M.rss.source})`, fmtBytes(M.rss.peakRss), '< 1 GB', atMost(M.rss.peakRss / 1e9, 1, ' GB'));
    const d = M.disk.per10k;
    add('7', 'Index size on disk per 10k images (catalog.db + FAISS file)', `${fmtBytes(d.total)} (catalog ${fmtBytes(d.catalog)}, FAISS ${fmtBytes(d.index)})`);
  } else fail('7', 'resources');

  // 8. int8
  const I = R.int8;
  if (I?.pipeline) {
    const fp = P?.default?.imagesPerSecond;
    add('8', `Index pipeline int8, defaults, ${n0(I.pipeline.images)} images`, `${f1(I.pipeline.imagesPerSecond)} img/s${fp ? ` = ${f2(I.pipeline.imagesPerSecond / fp)}x fp32` : ''}${C?.int8 ? `, ${f2(I.pipeline.imagesPerSecond / C.int8.best.imagesPerSecond)} of int8 ceiling` : ''}`);
    if (I.encodeFiles?.length) add('', `  int8 ImageEncoder.encodeFiles on ${I.encodeFiles[0].images} images (img/s)`, I.encodeFiles.map((e) => `${e.label} ${f1(e.imagesPerSecond)} (${f0(e.cpuMsPerImage)} CPU-ms/img)`).join('; '));
    add('8', `int8 vs fp32 embeddings, cosine over ${I.cosine.n} images`, `mean ${I.cosine.mean.toFixed(4)}, min ${I.cosine.min.toFixed(4)}; centred: mean ${I.cosine.centred.mean.toFixed(4)}, min ${I.cosine.centred.min.toFixed(4)}`);
  } else fail('8', 'int8');

  // 9. gpu
  if (R.gpu) add('9', 'GPU', R.gpu.note ?? 'n/a');
  return rows;
}

export function formatTable(rows) {
  const head = ['#', 'Measure', 'Result', 'Goal', 'Status'];
  const widths = head.map((h, i) => Math.min(i === 2 ? 90 : 80, Math.max(h.length, ...rows.map((r) => String(r[i]).length))));
  const line = (cells) =>
    '| ' +
    cells
      .map((c, i) => {
        const s = String(c);
        return s.length > widths[i] ? s : s.padEnd(widths[i]);
      })
      .join(' | ') +
    ' |';
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
