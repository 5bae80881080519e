export {
  ClipTokenizer,
  CLIP_PATTERN,
  DEFAULT_CONTEXT_LENGTH,
  type DecodeOptions,
  type EncodeOptions,
} from './clip-tokenizer.js';
export { basicClean, cleanText, pyStrip, whitespaceClean, WHITE_SPACE } from './clean-text.js';
export { htmlUnescape } from './html-unescape.js';
export {
  BPE_SIMPLE_VOCAB_NAMES,
  bytesToUnicode,
  CLIP_MERGE_COUNT,
  END_OF_TEXT,
  END_OF_WORD,
  findTokenizerFiles,
  loadBpeGz,
  loadTokenizerDir,
  loadTokenizerFiles,
  loadTokenizerJson,
  loadVocabMerges,
  parseBpeSimpleVocab,
  parseTokenizerJson,
  parseVocabMerges,
  START_OF_TEXT,
  type BpeData,
  type TokenizerFiles,
} from './load.js';
