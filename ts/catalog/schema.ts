/** SQLite schema of the catalog: the source of truth (the FAISS file is a cache of it). */
/**
 * 2: texts (OCR) keyed by (content hash, OCR model id), and their FTS5 trigram index. A version-1
 * catalog gets the new tables on open (CREATE ... IF NOT EXISTS); its texts are read by the next
 * index run, without re-embedding.
 * 3: thumbnails, the index of the JPEG thumbnails stored under the home (ts/catalog/thumbnails.ts).
 * An older catalog gets the table on open; its images get thumbnails when they are first shown (or
 * re-encoded), and the legacy `<home>/thumbs` folder of the launchers' own cache is removed once
 * (Memery.open, on the upgrade: see Catalog.upgradedFrom).
 */
export const SCHEMA_VERSION = 3;
/** The schema version that brought the thumbnail store (an upgrade from before it removes `<home>/thumbs`). */
export const THUMBNAILS_SINCE = 3;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  added_at INTEGER NOT NULL,
  indexed_at INTEGER
);
CREATE TABLE IF NOT EXISTS files (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  hash TEXT,
  width INTEGER,
  height INTEGER,
  status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
  error_code TEXT,
  error_message TEXT,
  indexed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS files_hash ON files(hash);
CREATE TABLE IF NOT EXISTS embeddings (
  -- AUTOINCREMENT: an id is never reused, so a vector left in an hnsw index after its embedding
  -- was deleted can never be mistaken for a newer one.
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  hash TEXT NOT NULL,
  model_id TEXT NOT NULL,
  dim INTEGER NOT NULL,
  vector BLOB NOT NULL,
  UNIQUE (hash, model_id)
);
CREATE INDEX IF NOT EXISTS embeddings_model ON embeddings(model_id);
-- The text in each image (OCR), once per content and OCR model, like embeddings. text: the lines
-- joined by newlines ('' when the image has none); lines: JSON [{ text, confidence, box }]; norm: the
-- text normalised for matching (ts/text/normalise.ts). A failed read keeps error_code/message and
-- an empty text, so it is not read again until the content changes.
CREATE TABLE IF NOT EXISTS texts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  hash TEXT NOT NULL,
  ocr_model_id TEXT NOT NULL,
  text TEXT NOT NULL,
  lines TEXT NOT NULL,
  norm TEXT NOT NULL,
  error_code TEXT,
  error_message TEXT,
  read_at INTEGER NOT NULL,
  UNIQUE (hash, ocr_model_id)
);
-- Substring search over norm (an external-content FTS5 table kept in step by the triggers).
CREATE VIRTUAL TABLE IF NOT EXISTS texts_fts USING fts5(norm, content='texts', content_rowid='id', tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS texts_ai AFTER INSERT ON texts BEGIN
  INSERT INTO texts_fts (rowid, norm) VALUES (new.id, new.norm);
END;
CREATE TRIGGER IF NOT EXISTS texts_ad AFTER DELETE ON texts BEGIN
  INSERT INTO texts_fts (texts_fts, rowid, norm) VALUES ('delete', old.id, old.norm);
END;
CREATE TRIGGER IF NOT EXISTS texts_au AFTER UPDATE ON texts BEGIN
  INSERT INTO texts_fts (texts_fts, rowid, norm) VALUES ('delete', old.id, old.norm);
  INSERT INTO texts_fts (rowid, norm) VALUES (new.id, new.norm);
END;
-- JPEG thumbnails stored as files under the home (<home>/thumbnails/<hash[0:2]>/<hash>-<size>.jpg),
-- once per (content hash, edge in pixels): their byte size and last use (ms since the epoch), so
-- pruning (no ok file has the content any more) and the size budget (least recently used first)
-- never list the folder.
CREATE TABLE IF NOT EXISTS thumbnails (
  id INTEGER PRIMARY KEY,
  hash TEXT NOT NULL,
  size INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  used_at INTEGER NOT NULL,
  UNIQUE (hash, size)
);
CREATE INDEX IF NOT EXISTS thumbnails_used ON thumbnails(used_at);
`;
