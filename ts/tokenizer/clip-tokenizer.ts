/**
 * The CLIP byte-level BPE tokenizer, reproducing OpenAI CLIP's `SimpleTokenizer` and
 * `clip.tokenize` id for id (text cleaning with NFC in place of ftfy; see ./clean-text.ts).
 */
import { cleanText, WHITE_SPACE } from './clean-text.js';
import {
  bytesToUnicode,
  END_OF_TEXT,
  END_OF_WORD,
  loadBpeGz,
  loadTokenizerDir,
  loadTokenizerJson,
  loadVocabMerges,
  START_OF_TEXT,
  type BpeData,
} from './load.js';

/** CLIP's context length. */
export const DEFAULT_CONTEXT_LENGTH = 77;

/**
 * CLIP's pre-tokenisation pattern (`regex` with IGNORECASE), with `\s` spelled out as the
 * `regex` module's White_Space set.
 */
export const CLIP_PATTERN = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^${WHITE_SPACE}\\p{L}\\p{N}]+`,
  'giu',
);

/**
 * U+0345 COMBINING GREEK YPOGEGRAMMENI is the one character the two engines classify differently:
 * under IGNORECASE, Python's `regex` matches it with none of the alternatives (so it is skipped,
 * like a space), while JavaScript's case folding lets `[\p{L}]` match it. Replacing it with a
 * space before matching gives Python's result.
 */
const SKIPPED_BY_PYTHON = /\u0345/g;

export interface EncodeOptions {
  /** Maximum length of the result, start and end tokens included (default 77). */
  contextLength?: number;
  /**
   * When the ids do not fit: `true` (default) cuts them to `contextLength` and puts the end
   * token last, as `clip.tokenize(..., truncate=True)`; `false` throws a RangeError.
   */
  truncate?: boolean;
}

export interface DecodeOptions {
  /** Leave out the start and end tokens (default true). */
  skipSpecialTokens?: boolean;
}

/** Words kept in the per-word BPE cache before it is emptied (bounds memory in long runs). */
const CACHE_LIMIT = 100_000;

const utf8Encoder = new TextEncoder();

export class ClipTokenizer {
  /** Id of `<|startoftext|>`. */
  readonly sot: number;
  /** Id of `<|endoftext|>`. */
  readonly eot: number;
  /** Number of ids (one more than the largest id). */
  readonly vocabSize: number;

  private readonly encoder: ReadonlyMap<string, number>;
  private readonly decoder: ReadonlyArray<string | undefined>;
  /** `first + ' ' + second` -> merge rank (symbols never contain a space). */
  private readonly ranks = new Map<string, number>();
  /** byte -> printable character (GPT-2 `bytes_to_unicode`). */
  private readonly byteEncoder: string[] = new Array<string>(256);
  /** printable character -> byte. */
  private readonly byteDecoder = new Map<string, number>();
  /** Pre-tokenised word (before byte encoding) -> its ids. */
  private readonly cache = new Map<string, readonly number[]>();

  constructor(data: BpeData) {
    this.encoder = data.vocab;
    const sot = data.vocab.get(START_OF_TEXT);
    const eot = data.vocab.get(END_OF_TEXT);
    if (sot === undefined || eot === undefined) {
      throw new Error(`CLIP tokenizer: the vocabulary lacks ${START_OF_TEXT} or ${END_OF_TEXT}`);
    }
    this.sot = sot;
    this.eot = eot;
    data.merges.forEach(([a, b], rank) => this.ranks.set(`${a} ${b}`, rank));
    for (const [byte, ch] of bytesToUnicode()) {
      this.byteEncoder[byte] = ch;
      this.byteDecoder.set(ch, byte);
    }
    let size = 0;
    for (const id of data.vocab.values()) if (id >= size) size = id + 1;
    const decoder = new Array<string | undefined>(size);
    for (const [token, id] of data.vocab) decoder[id] = token;
    this.decoder = decoder;
    this.vocabSize = size;
  }

  /** Same as the constructor. */
  static fromData(data: BpeData): ClipTokenizer {
    return new ClipTokenizer(data);
  }

  /** From Hugging Face `vocab.json` + `merges.txt`. */
  static async fromVocabMerges(vocabPath: string, mergesPath: string): Promise<ClipTokenizer> {
    return new ClipTokenizer(await loadVocabMerges(vocabPath, mergesPath));
  }

  /** From OpenAI CLIP's `bpe_simple_vocab_16e6.txt.gz`. */
  static async fromBpeGz(path: string): Promise<ClipTokenizer> {
    return new ClipTokenizer(await loadBpeGz(path));
  }

  /** From a Hugging Face `tokenizer.json`. */
  static async fromTokenizerJson(path: string): Promise<ClipTokenizer> {
    return new ClipTokenizer(await loadTokenizerJson(path));
  }

  /**
   * From whichever tokenizer files `dir` (or one of its immediate subfolders, e.g. `textual/`)
   * holds: `tokenizer.json`, `vocab.json` + `merges.txt`, or `bpe_simple_vocab_16e6.txt.gz`.
   */
  static async fromDir(dir: string): Promise<ClipTokenizer> {
    return new ClipTokenizer(await loadTokenizerDir(dir));
  }

  /** BPE ids of `text` after CLIP cleaning, without start/end tokens and without truncation. */
  encodeText(text: string): number[] {
    const ids: number[] = [];
    const cleaned = cleanText(text).replace(SKIPPED_BY_PYTHON, ' ');
    for (const match of cleaned.matchAll(CLIP_PATTERN)) {
      for (const id of this.word(match[0])) ids.push(id);
    }
    return ids;
  }

  /**
   * `[sot, ...ids, eot]`, unpadded, at most `contextLength` long (see {@link EncodeOptions}).
   */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const contextLength = opts.contextLength ?? DEFAULT_CONTEXT_LENGTH;
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw new RangeError(`contextLength must be an integer >= 2, got ${contextLength}`);
    }
    const ids = [this.sot, ...this.encodeText(text), this.eot];
    if (ids.length <= contextLength) return ids;
    if (opts.truncate === false) {
      throw new RangeError(`input is too long for context length ${contextLength}: ${JSON.stringify(text)}`);
    }
    ids.length = contextLength;
    ids[contextLength - 1] = this.eot;
    return ids;
  }

  /** {@link encode} for each text. */
  encodeBatch(texts: readonly string[], opts: EncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, opts));
  }

  /** `ids` zero-padded to `contextLength` (RangeError when longer). */
  pad(ids: readonly number[], contextLength: number = DEFAULT_CONTEXT_LENGTH): Int32Array {
    if (ids.length > contextLength) {
      throw new RangeError(`${ids.length} ids do not fit in context length ${contextLength}`);
    }
    const out = new Int32Array(contextLength);
    out.set(ids);
    return out;
  }

  /**
   * Like `clip.tokenize(texts)`: the texts encoded and zero-padded, as one row-major
   * `[texts.length, contextLength]` Int32Array.
   */
  tokenize(texts: readonly string[], opts: EncodeOptions = {}): Int32Array {
    const contextLength = opts.contextLength ?? DEFAULT_CONTEXT_LENGTH;
    const out = new Int32Array(texts.length * contextLength);
    texts.forEach((t, i) => out.set(this.encode(t, opts), i * contextLength));
    return out;
  }

  /**
   * Text of `ids` (as `SimpleTokenizer.decode`: `</w>` becomes a space, invalid UTF-8 becomes
   * U+FFFD), without the trailing space of the last word. Padding zeros are not special: strip
   * them first.
   */
  decode(ids: Iterable<number>, opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? true;
    const bytes: number[] = [];
    for (const id of ids) {
      if (skip && (id === this.sot || id === this.eot)) continue;
      const token = this.decoder[id];
      if (token === undefined) throw new RangeError(`unknown token id ${id}`);
      for (const ch of token) {
        const byte = this.byteDecoder.get(ch);
        if (byte !== undefined) bytes.push(byte);
        else for (const b of utf8Encoder.encode(ch)) bytes.push(b);
      }
    }
    const text = new TextDecoder('utf-8').decode(Uint8Array.from(bytes));
    return text.split(END_OF_WORD).join(' ').replace(/ $/, '');
  }

  /** Ids of one pre-tokenised word (cached). */
  private word(token: string): readonly number[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    let ids: readonly number[];
    if (token === START_OF_TEXT) ids = [this.sot];
    else if (token === END_OF_TEXT) ids = [this.eot];
    else {
      let encoded = '';
      for (const b of utf8Encoder.encode(token)) encoded += this.byteEncoder[b]!;
      ids = this.bpe(encoded).map((symbol) => {
        const id = this.encoder.get(symbol);
        if (id === undefined) throw new Error(`CLIP tokenizer: BPE symbol ${JSON.stringify(symbol)} is not in the vocabulary`);
        return id;
      });
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(token, ids);
    return ids;
  }

  /** `SimpleTokenizer.bpe`: merges the characters of a byte-encoded word by rank. */
  private bpe(token: string): string[] {
    // Byte-encoded characters are all in the BMP, so code units are characters.
    let word = token.split('');
    word[word.length - 1] += END_OF_WORD;
    while (word.length > 1) {
      let best = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.ranks.get(`${word[i]!} ${word[i + 1]!}`);
        if (rank !== undefined && rank < best) {
          best = rank;
          first = word[i]!;
          second = word[i + 1]!;
        }
      }
      if (best === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }
    return word;
  }
}
