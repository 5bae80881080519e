import { z } from 'zod';
import { loadBinding } from './binding.js';
import { SessionOptionsSchema, type SessionOptions } from './image-encoder.js';
import { native } from './native-error.js';
import type { NativeTextEncoder } from './types.js';
import { parseOptions } from './validate.js';

export const TextLoadOptionsSchema = SessionOptionsSchema.extend({
  /** CLIP's context length: longer token sequences are refused (0: no limit). */
  contextLength: z.number().int().min(0).max(65536).default(77),
});

/**
 * An ONNX Runtime session on a CLIP text model: unpadded token ids in, L2-normalised embeddings
 * out. With a dynamic sequence length only the real tokens are fed (CLIP's text attention is
 * causal and reads the end token, so padding changes nothing but the cost).
 */
export class TextEncoder {
  readonly #native: NativeTextEncoder;
  readonly modelPath: string;
  private constructor(n: NativeTextEncoder, modelPath: string) {
    this.#native = n;
    this.modelPath = modelPath;
  }

  static async load(
    modelPath: string,
    options: SessionOptions & { contextLength?: number } = {},
  ): Promise<TextEncoder> {
    const o = parseOptions(TextLoadOptionsSchema, options, 'text encoder options');
    const n = await native(() => loadBinding().TextEncoder.load(modelPath, o));
    return new TextEncoder(n, modelPath);
  }

  get info(): { input: string; mask: string | null; output: string; sequenceLength: number; dim: number; provider: string } {
    return this.#native.info();
  }

  /** One embedding row per text; `ids` are unpadded ([start, ...tokens, end]). */
  async encode(ids: number[][]): Promise<Float32Array> {
    return native(() => this.#native.encode(ids));
  }

  close(): void {
    this.#native.close();
  }
}
