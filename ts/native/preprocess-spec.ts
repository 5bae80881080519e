import { z } from 'zod';

const triple = z.tuple([z.number(), z.number(), z.number()]);

/** How images are turned into model input: shared by the encoder, decodeForModel and the CLI. */
export const PreprocessSpecSchema = z.object({
  size: z.number().int().min(8).max(4096).default(224),
  mean: triple.default([0.48145466, 0.4578275, 0.40821073]),
  std: triple.default([0.26862954, 0.26130258, 0.27577711]),
  /**
   * JPEG shrink-on-load, only while the shrunk shorter side stays >= shrinkMargin * size. Measured
   * against the reference on 2-20 MP JPEGs: margin 2 gives mean abs diff 0.81 (worst 3.7), 3 gives
   * 0.52 (2.3), 4 gives 0.29 (1.2): 4 is the smallest margin within the bars.
   */
  shrinkOnLoad: z.boolean().default(true),
  shrinkMargin: z.number().min(1).max(16).default(4),
  /** Images with more pixels are refused (decompression bombs). */
  maxPixels: z.number().int().positive().default(268402689),
  /** Apply EXIF orientation. Off by default: CLIP (and the reference loader) see stored pixels. */
  autorotate: z.boolean().default(false),
});
export type PreprocessSpec = z.output<typeof PreprocessSpecSchema>;
export type PreprocessSpecInput = z.input<typeof PreprocessSpecSchema>;
