/**
 * The texts of images (OCR) in the catalog: one row per (content hash, OCR model id), like
 * embeddings, so a moved or copied file keeps its text without a second read; an FTS5 trigram
 * index over the normalised text finds candidates for a query (see ts/text/match.ts).
 */
import type Database from 'better-sqlite3';
import { folderPrefix } from './catalog.js';
import { ftsExpression, type TextQueryPlan } from '../text/match.js';

export interface OcrLineRecord {
  text: string;
  confidence: number;
  box: number[];
}

export interface TextRecord {
  hash: string;
  ocrModelId: string;
  /** The lines joined by '\n'; '' for an image without text (or a failed read). */
  text: string;
  lines: OcrLineRecord[];
  norm: string;
  errorCode?: string | null;
  errorMessage?: string | null;
}

export interface TextNeed {
  hash: string;
  path: string;
  size: number;
  mtime_ms: number;
}

export interface TextHitRow {
  text_id: number;
  file_id: number;
  path: string;
  size: number;
  mtime_ms: number;
  width: number | null;
  height: number | null;
  hash: string;
  text: string;
}

/**
 * Whose texts a search reads: the OCR model's current id, and, for content not yet read again under
 * it, the texts an earlier read version (or earlier files) of the same registry entry stored (ids
 * starting with `prefix`, which the next index run replaces). So a memery whose read version changed
 * still finds memes by their words until `memery index` has read them again; another OCR model's
 * texts are never read.
 */
export interface TextScope {
  id: string;
  prefix: string;
}

/** SQL condition: the text row `t` is in the scope bound as @id and @prefix (other keys of the bound object are ignored). */
const IN_SCOPE = `(t.ocr_model_id = @id OR (substr(t.ocr_model_id, 1, length(@prefix)) = @prefix
  AND NOT EXISTS (SELECT 1 FROM texts c WHERE c.hash = t.hash AND c.ocr_model_id = @id)))`;

export class TextStore {
  readonly #db: Database.Database;
  #present: boolean | undefined;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** False for a catalog from before texts that could only be opened for reading. */
  present(): boolean {
    this.#present ??= this.#db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'texts'").get() !== undefined;
    return this.#present;
  }

  /** One ok file per content under `folder` whose text has not been read with this OCR model. */
  missing(folder: string, ocrModelId: string): TextNeed[] {
    const prefix = folderPrefix(folder);
    return this.#db
      .prepare(
        `SELECT f.hash, MIN(f.path) AS path, f.size, f.mtime_ms FROM files f
         WHERE substr(f.path, 1, ?) = ? AND f.status = 'ok' AND f.hash IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM texts t WHERE t.hash = f.hash AND t.ocr_model_id = ?)
         GROUP BY f.hash ORDER BY path`,
      )
      .all(prefix.length, prefix, ocrModelId) as TextNeed[];
  }

  /**
   * Marks the record of `path` as changed when it still says `hash`: its bytes were found to hold
   * other content behind the same size and mtime, so the next index run hashes and encodes it again
   * (the catalog's "unchanged" rule is size and mtime).
   */
  markChanged(path: string, hash: string): void {
    this.#db.prepare('UPDATE files SET mtime_ms = -1 WHERE path = ? AND hash = ?').run(path, hash);
  }

  /**
   * One transaction. With `supersedes` (ocrModelIdPrefix), the same content's texts stored under
   * another id with that prefix (an earlier read version or earlier files of the same OCR model:
   * never read again) are deleted as the new text comes in.
   */
  commit(records: TextRecord[], supersedes?: string): void {
    if (!records.length) return;
    const drop = this.#db.prepare(
      'DELETE FROM texts WHERE hash = ? AND ocr_model_id != ? AND substr(ocr_model_id, 1, length(?)) = ?',
    );
    const ins = this.#db.prepare(
      `INSERT INTO texts (hash, ocr_model_id, text, lines, norm, error_code, error_message, read_at)
       VALUES (@hash, @ocrModelId, @text, @lines, @norm, @errorCode, @errorMessage, @now)
       ON CONFLICT(hash, ocr_model_id) DO UPDATE SET text = excluded.text, lines = excluded.lines, norm = excluded.norm,
         error_code = excluded.error_code, error_message = excluded.error_message, read_at = excluded.read_at`,
    );
    this.#db.transaction(() => {
      const now = Date.now();
      for (const r of records) {
        if (supersedes !== undefined) drop.run(r.hash, r.ocrModelId, supersedes, supersedes);
        ins.run({ ...r, lines: JSON.stringify(r.lines), errorCode: r.errorCode ?? null, errorMessage: r.errorMessage ?? null, now });
      }
    })();
  }

  /** Indexed (ok) files whose content has a text in the scope (not empty, not failed): those search can find by their words. */
  filesWithText(scope: TextScope): number {
    if (!this.present()) return 0;
    return this.#db
      .prepare(
        `SELECT COUNT(*) FROM files f WHERE f.status = 'ok' AND f.hash IS NOT NULL
           AND EXISTS (SELECT 1 FROM texts t WHERE t.hash = f.hash AND ${IN_SCOPE} AND t.text != '' AND t.error_code IS NULL)`,
      )
      .pluck()
      .get(scope) as number;
  }

  /**
   * Ids of texts that may match the plan: the best `limit` by FTS5 rank over the query's quoted
   * trigrams, and for a single short word those matching its one-edit LIKE patterns.
   */
  candidates(plan: TextQueryPlan, scope: TextScope, limit = 2000): number[] {
    if (!this.present()) return [];
    const ids = new Set<number>();
    const expr = ftsExpression(plan);
    if (expr) {
      const rows = this.#db
        .prepare(
          `SELECT t.id FROM texts_fts JOIN texts t ON t.id = texts_fts.rowid
           WHERE texts_fts MATCH @expr AND ${IN_SCOPE} ORDER BY texts_fts.rank LIMIT @limit`,
        )
        .pluck()
        .all({ ...scope, expr, limit }) as number[];
      for (const id of rows) ids.add(id);
    }
    if (plan.likePatterns.length) {
      const where = plan.likePatterns.map((_, i) => `t.norm LIKE @p${i}`).join(' OR ');
      const patterns = Object.fromEntries(plan.likePatterns.map((p, i) => [`p${i}`, p]));
      const rows = this.#db
        .prepare(`SELECT t.id FROM texts t WHERE ${IN_SCOPE} AND t.norm != '' AND (${where}) LIMIT @limit`)
        .pluck()
        .all({ ...scope, ...patterns, limit }) as number[];
      for (const id of rows) ids.add(id);
    }
    return [...ids];
  }

  /** The ok files (under `folders`, when given) holding the content of these texts. */
  files(textIds: number[], folders?: string[]): TextHitRow[] {
    if (!textIds.length) return [];
    const rows = this.#db
      .prepare(
        `SELECT t.id AS text_id, f.id AS file_id, f.path, f.size, f.mtime_ms, f.width, f.height, f.hash, t.text
         FROM texts t JOIN files f ON f.hash = t.hash AND f.status = 'ok'
         WHERE t.id IN (SELECT value FROM json_each(?))`,
      )
      .all(JSON.stringify(textIds)) as TextHitRow[];
    if (!folders) return rows;
    const prefixes = folders.map(folderPrefix);
    return rows.filter((r) => prefixes.some((p) => r.path.startsWith(p)));
  }

  /** The text of each file (by file id) in the scope; files without one are absent. */
  textsOfFiles(fileIds: number[], scope: TextScope): Map<number, string> {
    if (!fileIds.length || !this.present()) return new Map();
    const rows = this.#db
      .prepare(
        `SELECT f.id, t.text FROM files f JOIN texts t ON t.hash = f.hash AND ${IN_SCOPE}
         WHERE f.id IN (SELECT value FROM json_each(@ids)) AND t.error_code IS NULL`,
      )
      .all({ ...scope, ids: JSON.stringify(fileIds) }) as Array<{ id: number; text: string }>;
    return new Map(rows.map((r) => [r.id, r.text]));
  }
}
