/**
 * `memery ocr FILE... [--json]`: the text in each image (OCR with the model that comes with
 * memery). Plain: the lines read (several files: each under a `==> path <==` header). JSON: the
 * lines with their boxes and confidences.
 */
import { resolve } from 'node:path';
import { fileFailure, isMemeryError, MemeryError } from '../../errors.js';
import { openMemery, writeOut, type GlobalOptions } from '../context.js';
import { failureLine } from '../format/summary.js';

export async function runOcr(files: string[], opts: { json?: boolean }, g: GlobalOptions): Promise<void> {
  const m = await openMemery(g);
  const out: unknown[] = [];
  let text = '';
  let failed: MemeryError | undefined;
  try {
    for (const f of files) {
      const path = resolve(f);
      try {
        const r = await m.readText(path);
        out.push({ path, ...r });
        text += files.length > 1 ? `==> ${path} <==\n${r.text}${r.text ? '\n' : ''}` : r.text ? `${r.text}\n` : '';
      } catch (err) {
        if (!isMemeryError(err) || files.length === 1) throw err;
        failed = err;
        out.push({ path, error: { code: err.code, message: err.message } });
        process.stderr.write(`${failureLine(fileFailure({ path, code: err.code, message: err.message }))}\n`);
      }
    }
  } finally {
    await m.close();
  }
  await writeOut(opts.json ? `${JSON.stringify(files.length === 1 ? out[0] : out, null, 2)}\n` : text);
  if (failed) throw new MemeryError(failed.code, `Could not read the text of every file (the last failure: ${failed.message})`, { path: failed.path });
}
