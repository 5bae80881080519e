/**
 * The OCR phase of an index run: reads the text of every content under the folder that has none for
 * the OCR model yet (new files, and every file of a catalog indexed before OCR), committing chunk by
 * chunk so a stopped or killed run resumes where it was. Images without text get an empty text (so
 * they are not read again); a file that cannot be read is reported and, unless the failure says
 * nothing about the content (I/O), stored as failed until its content changes.
 */
import { stat } from 'node:fs/promises';
import type { IndexFileError, IndexProgress } from '../api/schemas.js';
import type { OcrEngine } from '../native/ocr.js';
import { normaliseText } from '../text/normalise.js';
import type { TextRecord, TextStore } from './texts.js';
import { recordMatches } from './catalog.js';
import { fileFailure, retriedEveryRun } from '../errors.js';

export interface ReadTextsContext {
  texts: TextStore;
  ocrModelId: string;
  /** ocrModelIdPrefix of the OCR model: its texts under other ids are superseded by the ones read now. */
  ocrModelIdPrefix?: string;
  engine: () => Promise<OcrEngine>;
  decodeThreads: number;
  maxFileBytes: number;
  /** Images per committed chunk. */
  chunkSize?: number;
  onWarning?: (message: string) => void;
}

export interface ReadTextsSummary {
  texts: number;
  textFailed: number;
  textErrors: IndexFileError[];
}

export async function readTexts(
  ctx: ReadTextsContext,
  folder: string,
  opts: { signal?: AbortSignal; onProgress?: (p: IndexProgress) => void } = {},
): Promise<ReadTextsSummary> {
  const out: ReadTextsSummary = { texts: 0, textFailed: 0, textErrors: [] };
  const need = ctx.texts.missing(folder, ctx.ocrModelId);
  if (!need.length) return out;
  const progress = opts.onProgress ?? (() => {});
  let engine: OcrEngine;
  try {
    engine = await ctx.engine();
  } catch (err) {
    // The images are indexed; only their text is missing. The next run tries again.
    ctx.onWarning?.(`cannot read text in images (OCR): ${(err as Error).message}`);
    return out;
  }
  const chunkSize = ctx.chunkSize ?? 8;
  progress({ phase: 'ocr', done: 0, total: need.length });
  for (let i = 0; i < need.length; i += chunkSize) {
    if (opts.signal?.aborted) break;
    const chunk = need.slice(i, i + chunkSize);
    const results = await engine.read(
      chunk.map((n) => n.path),
      { decodeThreads: ctx.decodeThreads, maxFileBytes: ctx.maxFileBytes },
    );
    const records: TextRecord[] = [];
    for (let k = 0; k < chunk.length; k++) {
      const n = chunk[k]!;
      const r = results[k]!;
      // The text belongs to the content the catalog has for this path only if the bytes the OCR
      // read are that content (their hash, from the same read as the decode): a file changed since
      // it was encoded, even to the same size and mtime, is read again by the next run. Where the
      // file could not be read there is no hash: then size and mtime decide whether a content
      // failure is kept.
      let same: boolean;
      if (r.hash) {
        same = r.hash === n.hash;
        if (!same) ctx.texts.markChanged(n.path, n.hash);
      } else {
        const st = await stat(n.path).catch(() => undefined);
        same = st !== undefined && recordMatches(n, st);
      }
      if (r.ok) {
        if (!same) continue;
        const lines = r.lines.map((l) => ({ text: l.text, confidence: Math.round(l.confidence * 1e4) / 1e4, box: [...l.box] }));
        records.push({ hash: n.hash, ocrModelId: ctx.ocrModelId, text: r.text, lines, norm: normaliseText(r.text) });
        out.texts++;
        continue;
      }
      out.textFailed++;
      out.textErrors.push(fileFailure({ path: n.path, code: r.code, message: r.message }));
      if (same && !retriedEveryRun(r.code)) {
        records.push({ hash: n.hash, ocrModelId: ctx.ocrModelId, text: '', lines: [], norm: '', errorCode: r.code, errorMessage: r.message });
      }
    }
    ctx.texts.commit(records, ctx.ocrModelIdPrefix);
    progress({ phase: 'ocr', done: Math.min(need.length, i + chunk.length), total: need.length });
  }
  return out;
}
