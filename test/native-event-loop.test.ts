// Decoding and inference run on native threads: while a long batch encodes, the event loop keeps
// ticking (a 10 ms interval is never more than 50 ms late; 500 ms under AddressSanitizer, whose
// allocator slows every thread down, the main thread's too).
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageEncoder } from '../ts/native/index.js';
import { measureLag } from './helpers/event-loop.js';
import { HAS_SHARED, SHARED_SKIP_REASON, shared, testModel } from './helpers/shared.js';

const ASAN = process.env.MEMERY_ASAN === '1';
const MAX_LAG_MS = ASAN ? 500 : 50;

describe.skipIf(!HAS_SHARED)(`event loop during encoding ${HAS_SHARED ? '' : SHARED_SKIP_REASON}`, () => {
  let encoder: ImageEncoder;
  let files: string[];
  beforeAll(async () => {
    const corpus = ['memes', 'photos'].flatMap((d) => readdirSync(shared('corpus', d)).sort().map((f) => shared('corpus', d, f)));
    files = Array.from({ length: 10 }, () => corpus).flat(); // long enough to last > 1 s on a fast machine
    encoder = await ImageEncoder.load(testModel('colour-hf', 'onnx', 'vision_model.onnx'));
    await encoder.encodeFiles(corpus.slice(0, 4)); // warm up (lazy init of decoders and the session)
  });
  afterAll(() => encoder?.close());

  it(`a 10 ms interval is never more than ${MAX_LAG_MS} ms late while a >1 s batch encodes`, async () => {
    const { result: r, ms, lags, max, p99 } = await measureLag(() => encoder.encodeFiles(files, { batchSize: 16 }));
    console.log(`event loop: ${files.length} files in ${ms.toFixed(0)} ms, ${lags.length} ticks, max lag ${max.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
    expect(r.errors).toHaveLength(10 * 3);
    expect(ms).toBeGreaterThan(1000); // the batch was long enough to mean something
    expect(lags.length).toBeGreaterThan(ms / 10 / 2);
    expect(max).toBeLessThan(MAX_LAG_MS);
  });
});
