import { z } from 'zod';

const triple = z.tuple([z.number(), z.number(), z.number()]);

/** How images are turned into model input: shared by the encoder, decodeForModel and the CLI. */
export const PreprocessSpecSchema = z.object({
  size: z.number().int().min(8).max(4096).default(224),
  mean: triple.default([0.48145466, 0.4578275, 0.40821073]),
  std: triple.default([0.26862954, 0.26130258, 0.27577711]),
  /**
   * JPEG shrink-on-load, only while the shrunk shorter side stays >= shrinkMargin * size (the resize
   * then uses the exact fractional scale of the shrunk decode). Mean / worst abs diff from PIL's
   * crops (scripts/fidelity/shrink.mjs, 32 JPEGs of 1-29 MP): margin 4 0.06 / 0.20, 2 0.25 / 0.68,
   * 1.5 0.49 / 0.90, 1 0.95 / 3.7. 2 is the smallest margin comfortably within the bars.
   */
  shrinkOnLoad: z.boolean().default(true),
  shrinkMargin: z.number().min(1).max(16).default(2),
  /** Images with more pixels are refused (decompression bombs). */
  maxPixels: z.number().int().positive().default(268402689),
  /** Apply EXIF orientation. Off by default: CLIP (and the reference loader) see stored pixels. */
  autorotate: z.boolean().default(false),
});
export type PreprocessSpec = z.output<typeof PreprocessSpecSchema>;
export type PreprocessSpecInput = z.input<typeof PreprocessSpecSchema>;
