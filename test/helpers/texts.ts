/**
 * Gives an indexed image a text of our choosing, as if OCR had read it: a row in the catalog's
 * `texts` table for the file's content hash and the OCR model memery uses (the FTS index follows by
 * its triggers). For the clients' tests (GUI, Raycast, Alfred) over the colour images, which carry
 * no words, and for texts that OCR would hardly produce (`<b>`, `<img onerror>`, quotes).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ocrModelInfo } from '../../ts/api/ocr-model.js';
import { normalise } from '../../ts/text/normalise.js';

export function setImageText(home: string, path: string, text: string): void {
  const db = new Database(join(home, 'catalog.db'), { timeout: 10_000 });
  try {
    const row = db.prepare("SELECT hash FROM files WHERE path = ? AND status = 'ok'").get(path) as { hash: string } | undefined;
    if (!row) throw new Error(`${path} is not indexed in ${home}`);
    const lines = text.split('\n').map((t) => ({ text: t, confidence: 0.99, box: [0, 0, 10, 0, 10, 10, 0, 10] }));
    db.prepare(
      `INSERT INTO texts (hash, ocr_model_id, text, lines, norm, error_code, error_message, read_at)
       VALUES (?, ?, ?, ?, ?, NULL, NULL, ?)
       ON CONFLICT(hash, ocr_model_id) DO UPDATE SET text = excluded.text, lines = excluded.lines, norm = excluded.norm,
         error_code = NULL, error_message = NULL, read_at = excluded.read_at`,
    ).run(row.hash, ocrModelInfo().id, text, JSON.stringify(lines), normalise(text).text, Date.now());
  } finally {
    db.close();
  }
}
