/**
 * Loading CLIP BPE vocabularies in their three common layouts:
 *  - Hugging Face `vocab.json` + `merges.txt`,
 *  - OpenAI CLIP's `bpe_simple_vocab_16e6.txt.gz`,
 *  - Hugging Face `tokenizer.json`.
 * The parsers are pure (text in, {@link BpeData} out); the loaders read files asynchronously.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

const gunzipAsync = promisify(gunzip);

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
export const END_OF_WORD = '</w>';

/** Number of merges the original CLIP tokenizer uses from `bpe_simple_vocab_16e6.txt.gz`. */
export const CLIP_MERGE_COUNT = 49152 - 256 - 2;

/** A byte-level BPE vocabulary: token string -> id, and the merges in rank order. */
export interface BpeData {
  readonly vocab: ReadonlyMap<string, number>;
  readonly merges: ReadonlyArray<readonly [string, string]>;
}

let byteUnicodePairs: ReadonlyArray<readonly [number, string]> | undefined;

/**
 * GPT-2's `bytes_to_unicode()`: every byte mapped to a printable character, in the insertion
 * order of the Python dict (printable bytes first, then the rest mapped to U+0100 onwards). The
 * order matters: it is the order of the first 256 (and next 256) ids of the CLIP vocabulary.
 */
export function bytesToUnicode(): ReadonlyArray<readonly [number, string]> {
  if (byteUnicodePairs) return byteUnicodePairs;
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const printable = new Set(bs);
  const pairs: Array<readonly [number, string]> = bs.map((b) => [b, String.fromCharCode(b)] as const);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (printable.has(b)) continue;
    pairs.push([b, String.fromCharCode(256 + n)]);
    n++;
  }
  byteUnicodePairs = pairs;
  return pairs;
}

const SPACE_AT_END = /\s$/;

function splitMerge(line: string, where: string): readonly [string, string] {
  // Fast path for the usual "a b" line; otherwise split on any whitespace like Python's split().
  const space = line.indexOf(' ');
  if (space > 0 && line.indexOf(' ', space + 1) < 0 && !SPACE_AT_END.test(line)) {
    return [line.slice(0, space), line.slice(space + 1)] as const;
  }
  const parts = line.trim().split(/\s+/);
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new Error(`${where}: malformed merge line ${JSON.stringify(line)}`);
  }
  return [parts[0], parts[1]] as const;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function vocabFromObject(value: unknown, where: string): Map<string, number> {
  if (!isRecord(value)) throw new Error(`${where}: vocabulary is not a JSON object`);
  const vocab = new Map<string, number>();
  // for-in over a JSON object is much faster than Object.entries for ~50k keys.
  for (const token in value) {
    const id = value[token];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new Error(`${where}: bad id for token ${JSON.stringify(token)}`);
    }
    vocab.set(token, id);
  }
  return vocab;
}

/** Parses a Hugging Face `vocab.json` and `merges.txt` (whose `#version` header is skipped). */
export function parseVocabMerges(vocabJson: string, mergesTxt: string): BpeData {
  const vocab = vocabFromObject(JSON.parse(vocabJson) as unknown, 'vocab.json');
  const merges: Array<readonly [string, string]> = [];
  const lines = mergesTxt.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (i === 0 && line.startsWith('#version')) continue;
    if (line.trim() === '') continue;
    merges.push(splitMerge(line, 'merges.txt'));
  }
  return { vocab, merges };
}

/**
 * Parses the (gunzipped) text of OpenAI CLIP's `bpe_simple_vocab_16e6.txt`, exactly as
 * `SimpleTokenizer.__init__` does: merges = lines[1 : 49152-256-2+1]; the vocabulary is the 256
 * byte characters, the same with `</w>`, every merge joined, then the two special tokens.
 */
export function parseBpeSimpleVocab(text: string): BpeData {
  // Only the first CLIP_MERGE_COUNT + 1 of its ~262k lines are used: split no further.
  const merges: Array<readonly [string, string]> = [];
  let start = text.indexOf('\n') + 1; // skip the header line
  while (start > 0 && start <= text.length && merges.length < CLIP_MERGE_COUNT) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    merges.push(splitMerge(text.slice(start, end), 'bpe_simple_vocab'));
    if (nl < 0) break;
    start = nl + 1;
  }
  // dict(zip(vocab, range(len(vocab)))): a repeated token keeps its last id.
  const vocab = new Map<string, number>();
  let id = 0;
  const bytes = bytesToUnicode();
  for (const [, ch] of bytes) vocab.set(ch, id++);
  for (const [, ch] of bytes) vocab.set(ch + END_OF_WORD, id++);
  for (const [a, b] of merges) vocab.set(a + b, id++);
  vocab.set(START_OF_TEXT, id++);
  vocab.set(END_OF_TEXT, id++);
  return { vocab, merges };
}

/**
 * Parses a Hugging Face `tokenizer.json` with a BPE model: `model.vocab` (token -> id),
 * `model.merges` (either `"a b"` strings or `[a, b]` pairs) and `added_tokens` (for the special
 * tokens, when the vocabulary lacks them).
 */
export function parseTokenizerJson(json: string): BpeData {
  const root = JSON.parse(json) as unknown;
  if (!isRecord(root) || !isRecord(root.model)) {
    throw new Error('tokenizer.json: no "model" object');
  }
  const model = root.model;
  if (typeof model.type === 'string' && model.type !== 'BPE') {
    throw new Error(`tokenizer.json: model type ${model.type} is not BPE`);
  }
  const vocab = vocabFromObject(model.vocab, 'tokenizer.json');
  if (!Array.isArray(model.merges)) throw new Error('tokenizer.json: "model.merges" is not an array');
  const merges = (model.merges as unknown[]).map((m): readonly [string, string] => {
    if (typeof m === 'string') return splitMerge(m, 'tokenizer.json');
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      return [m[0], m[1]] as const;
    }
    throw new Error(`tokenizer.json: malformed merge ${JSON.stringify(m)}`);
  });
  if (Array.isArray(root.added_tokens)) {
    for (const t of root.added_tokens as unknown[]) {
      if (isRecord(t) && typeof t.content === 'string' && typeof t.id === 'number' && !vocab.has(t.content)) {
        vocab.set(t.content, t.id);
      }
    }
  }
  return { vocab, merges };
}

/** Reads `vocab.json` and `merges.txt`. */
export async function loadVocabMerges(vocabPath: string, mergesPath: string): Promise<BpeData> {
  const [vocab, merges] = await Promise.all([readFile(vocabPath, 'utf8'), readFile(mergesPath, 'utf8')]);
  return parseVocabMerges(vocab, merges);
}

/** Reads `bpe_simple_vocab_16e6.txt.gz` (or the same file already gunzipped). */
export async function loadBpeGz(path: string): Promise<BpeData> {
  const raw = await readFile(path);
  const gzipped = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b;
  const text = (gzipped ? await gunzipAsync(raw) : raw).toString('utf8');
  return parseBpeSimpleVocab(text);
}

/** Reads a Hugging Face `tokenizer.json`. */
export async function loadTokenizerJson(path: string): Promise<BpeData> {
  return parseTokenizerJson(await readFile(path, 'utf8'));
}

/** Tokenizer files found in a directory. */
export type TokenizerFiles =
  | { readonly kind: 'tokenizer.json'; readonly path: string }
  | { readonly kind: 'vocab+merges'; readonly vocabPath: string; readonly mergesPath: string }
  | { readonly kind: 'bpe-gz'; readonly path: string };

export const BPE_SIMPLE_VOCAB_NAMES = ['bpe_simple_vocab_16e6.txt.gz', 'bpe_simple_vocab_16e6.txt'] as const;

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function findIn(dir: string): Promise<TokenizerFiles | undefined> {
  const tokenizerJson = join(dir, 'tokenizer.json');
  if (await isFile(tokenizerJson)) return { kind: 'tokenizer.json', path: tokenizerJson };
  const vocabPath = join(dir, 'vocab.json');
  const mergesPath = join(dir, 'merges.txt');
  if ((await isFile(vocabPath)) && (await isFile(mergesPath))) return { kind: 'vocab+merges', vocabPath, mergesPath };
  for (const name of BPE_SIMPLE_VOCAB_NAMES) {
    const path = join(dir, name);
    if (await isFile(path)) return { kind: 'bpe-gz', path };
  }
  return undefined;
}

/**
 * Finds tokenizer files in `dir`, else in its immediate subfolders (e.g. `textual/`, in
 * alphabetical order). In one folder the preference is `tokenizer.json`, then
 * `vocab.json` + `merges.txt`, then `bpe_simple_vocab_16e6.txt.gz`.
 */
export async function findTokenizerFiles(dir: string): Promise<TokenizerFiles | undefined> {
  const here = await findIn(dir);
  if (here) return here;
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    return undefined;
  }
  for (const name of names) {
    const sub = join(dir, name);
    try {
      if (!(await stat(sub)).isDirectory()) continue;
    } catch {
      continue;
    }
    const found = await findIn(sub);
    if (found) return found;
  }
  return undefined;
}

/** Loads whichever {@link TokenizerFiles} were found. */
export async function loadTokenizerFiles(files: TokenizerFiles): Promise<BpeData> {
  switch (files.kind) {
    case 'tokenizer.json':
      return loadTokenizerJson(files.path);
    case 'vocab+merges':
      return loadVocabMerges(files.vocabPath, files.mergesPath);
    case 'bpe-gz':
      return loadBpeGz(files.path);
  }
}

/** Finds and loads the tokenizer files of `dir` (see {@link findTokenizerFiles}). */
export async function loadTokenizerDir(dir: string): Promise<BpeData> {
  const files = await findTokenizerFiles(dir);
  if (!files) {
    throw new Error(
      `no CLIP tokenizer files in ${dir} or its subfolders ` +
        `(expected tokenizer.json, vocab.json + merges.txt, or ${BPE_SIMPLE_VOCAB_NAMES[0]})`,
    );
  }
  return loadTokenizerFiles(files);
}
